//! `#[derive(ByteSize)]`: `heap_bytes` as the sum of the fields' heap bytes (their inline bytes
//! are part of the value's `size_of`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub fn derive(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let b = quote!(::sqrtspace::ByteSize);
    let name = &input.ident;
    let mut generics = input.generics.clone();
    for p in generics.type_params_mut() {
        p.bounds.push(syn::parse_quote!(#b));
    }
    let (impl_g, ty_g, where_g) = generics.split_for_impl();
    let arms = match &input.data {
        syn::Data::Struct(s) => vec![arm(quote!(Self), &s.fields, &b)],
        syn::Data::Enum(e) => e
            .variants
            .iter()
            .map(|v| {
                let v_name = &v.ident;
                arm(quote!(Self::#v_name), &v.fields, &b)
            })
            .collect(),
        syn::Data::Union(u) => {
            return syn::Error::new_spanned(
                u.union_token,
                "`#[derive(ByteSize)]` cannot see which field of a union is live\n\nhelp: implement `sqrtspace::ByteSize` by hand (`impl ByteSize for U {}` when it owns no heap memory)",
            )
            .to_compile_error()
        }
    };
    let body = if arms.is_empty() {
        // An enum without variants has no values.
        quote!(match *self {})
    } else {
        quote!(match self { #(#arms)* })
    };
    quote! {
        #[automatically_derived]
        impl #impl_g #b for #name #ty_g #where_g {
            #[inline]
            fn heap_bytes(&self) -> usize {
                #body
            }
        }
    }
}

fn arm(path: TokenStream, fields: &syn::Fields, b: &TokenStream) -> TokenStream {
    let binds: Vec<_> = (0..fields.len())
        .map(|i| format_ident!("__f{}", i))
        .collect();
    let pat = match fields {
        syn::Fields::Named(n) => {
            let names = n.named.iter().map(|f| &f.ident);
            quote!(#path { #(#names: #binds),* })
        }
        syn::Fields::Unnamed(_) => quote!(#path(#(#binds),*)),
        syn::Fields::Unit => quote!(#path),
    };
    quote!(#pat => 0usize #(+ #b::heap_bytes(#binds))*,)
}
