//! `#[stage]`: parse -> check -> expand.

mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;

pub fn stage(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = crate::errors::Errors::default();
    let mut func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            // Not a function: report it and keep the item so the editor keeps working.
            let e = syn::Error::new(
                e.span(),
                "#[stage] applies to a free function: `fn name(inputs...) -> Output`",
            );
            let mut out = item;
            out.extend(e.to_compile_error());
            return out;
        }
    };
    let attr = parse::parse_args(args, &mut errors);
    let model = check::check(&attr, &mut func, &mut errors);
    // Inputs arrive as `&Output` of the upstream, so `&Vec<T>` parameters are the DSL's doing,
    // not the user's choice: silence clippy's `ptr_arg` on stage functions.
    func.attrs
        .push(syn::parse_quote!(#[allow(clippy::ptr_arg)]));
    match model {
        Some(model) if errors.is_empty() => expand::expand(&func, &model),
        _ => {
            let mut out = expand::fallback(&func, attr.inputs.as_ref().map(|(r, _)| &r[..]));
            out.extend(errors.into_compile_errors());
            out
        }
    }
}
