//! Code generation for `#[stage]`: the untouched function, a hidden marker struct of the same
//! name, its `Stage` impl (metadata) and its generic `Compute<G>` impl (fetch inputs, call).

use super::check::{Arg, Model};
use super::parse::InputRef;
use crate::errors::{located_at, pretty, respan};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

pub fn expand(func: &syn::ItemFn, m: &Model) -> TokenStream {
    let name = &func.sig.ident;
    let name_str = name.to_string();
    let (output, fallible) = match (&m.buffers.out, fallible_output(&m.output)) {
        // `#[out] o: &mut O` returning `()` or `Result<(), E>` (checked): the output is `O`.
        (Some((o, _)), f) => (o, f.is_some()),
        (None, Some(t)) => (t, true),
        (None, None) => (&m.output, false),
    };
    let cost = m.cost;
    let p = quote!(::sqrtspace::__private);
    let stateful = m.state.is_some();
    let state_ty = m.state.clone().unwrap_or_else(|| syn::parse_quote!(()));
    let params_trait = format_ident!("__sqrtspace_params_{}", name);
    let init = match (&m.init, &m.state) {
        // At the `init` path, so that an initial value of another type than the state reads
        // "expected `State`, found `T`" there, not on the whole attribute.
        (Some(path), _) if m.init_params => respan(
            quote!(#path(<<__G as #p::Graph>::Params as #params_trait>::__sqrtspace_params(__params))),
            path.span(),
        ),
        (Some(path), _) => respan(quote!(#path()), path.span()),
        (None, Some(s)) => {
            quote_spanned!(syn::spanned::Spanned::span(s) => <#s as ::core::default::Default>::default())
        }
        (None, None) => quote!(),
    };

    let metas = m.inputs.iter().map(|i| {
        let iname = &i.name;
        let off = i.offset;
        if i.frames {
            quote!(#p::InputMeta { name: "input", stage: ::core::option::Option::None, offset: #off })
        } else {
            let path = &i.path;
            // The upstream's inherent `__SQRTSPACE_ID`, not `<#path as Stage>::META.id`: reading
            // another stage's `META` from this one's would make a cyclic graph a cycle of
            // consts (E0391), reported before `check_graph` could spell the cycle.
            quote_spanned!(i.span => #p::InputMeta { name: #iname, stage: ::core::option::Option::Some(<#path>::__SQRTSPACE_ID), offset: #off })
        }
    });

    // Each upstream is named through a hidden type alias, spanned at its entry in `inputs`:
    // an entry that is not a type (a plain function, `hann` without `#[stage]`) is then one
    // "expected type, found function" there, not also one "constant provided when a type was
    // expected" per generic argument below.
    let mut aliases = TokenStream::new();
    let alias: Vec<syn::Ident> = m
        .inputs
        .iter()
        .enumerate()
        .map(|(k, i)| {
            let a = format_ident!("__sqrtspace_{}_input{}", name, k);
            if !i.frames {
                let path = &i.path;
                aliases.extend(quote_spanned! {i.span=>
                    #[doc(hidden)]
                    #[allow(non_camel_case_types)]
                    type #a = #path;
                });
            }
            a
        })
        .collect();
    // Distinct upstream stages, for the `G: Has<S>` bounds.
    let mut bounds = Vec::new();
    let mut seen = Vec::new();
    for (k, i) in m.inputs.iter().enumerate().filter(|(_, i)| !i.frames) {
        let path = &i.path;
        let a = &alias[k];
        let key = quote!(#path).to_string();
        if !seen.contains(&key) {
            seen.push(key);
            bounds.push(respan(quote!(__G: #p::Has<#a>,), i.span));
        }
    }
    // The pipeline's `Sample` and `Params` must be this stage's: bounds on generated traits
    // (rather than `G: Graph<Params = P>`) so that a mismatch reads as one sentence naming both
    // types, on the pipeline's stage entry, instead of a projection mismatch (E0271).
    let mut graph_bounds = Vec::new();
    let mut helpers = TokenStream::new();
    let sample_trait = format_ident!("__sqrtspace_sample_{}", name);
    if let Some(s) = &m.sample {
        let msg = format!(
            "stage `{name_str}` reads frames of `{}` samples, but the pipeline's `sample` type is `{{Self}}`",
            pretty(s)
        );
        let label = format!("`{name_str}` takes `&[{}]`", pretty(s));
        let note = format!(
            "a pipeline has one sample type: declare `sample: {}` in `pipeline!` (the default is `f32`), or make `{name_str}` take `&[{{Self}}]`",
            pretty(s)
        );
        helpers.extend(quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types, unreachable_pub)]
            #[diagnostic::on_unimplemented(message = #msg, label = #label, note = #note)]
            pub trait #sample_trait: ::core::marker::Sized {
                fn __sqrtspace_frame(frame: &[Self]) -> &[#s];
            }
        });
        // At the user's type, so that "the trait is implemented for `f64`" points there.
        helpers.extend(respan(
            quote! {
                impl #sample_trait for #s {
                    #[inline(always)]
                    fn __sqrtspace_frame(frame: &[Self]) -> &[#s] {
                        frame
                    }
                }
            },
            m.sample_span,
        ));
        graph_bounds.push(respan(
            quote!(<__G as #p::Graph>::Sample: #sample_trait,),
            m.sample_span,
        ));
    }
    if let Some(pt) = &m.params {
        let msg = format!(
            "stage `{name_str}` takes `#[params] &{}`, but the pipeline's `params` type is `{{Self}}`",
            pretty(pt)
        );
        let label = format!("`{name_str}` takes `#[params] &{}`", pretty(pt));
        let note = format!(
            "a pipeline has one params type, passed to every stage that takes `#[params]`: declare `params: {}` in `pipeline!`, or make `{name_str}` take `#[params] &{{Self}}`",
            pretty(pt)
        );
        helpers.extend(quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types, unreachable_pub)]
            #[diagnostic::on_unimplemented(message = #msg, label = #label, note = #note)]
            pub trait #params_trait {
                fn __sqrtspace_params(&self) -> &#pt;
            }
        });
        helpers.extend(respan(
            quote! {
                impl #params_trait for #pt {
                    #[inline(always)]
                    fn __sqrtspace_params(&self) -> &#pt {
                        self
                    }
                }
            },
            m.params_span,
        ));
        graph_bounds.push(respan(
            quote!(<__G as #p::Graph>::Params: #params_trait,),
            m.params_span,
        ));
    }

    // Fetch oldest first, so stateful upstreams advance in window order.
    let mut order: Vec<usize> = (0..m.inputs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(m.inputs[i].offset));
    let fetches = order.iter().map(|&i| {
        let inp = &m.inputs[i];
        let h = format_ident!("__h{}", i);
        let off = inp.offset;
        if inp.frames {
            quote!()
        } else {
            let path = &alias[i];
            quote_spanned!(inp.span => let #h = __ex.fetch_back::<#path>(__t, #off)?;)
        }
    });
    let binds = m.inputs.iter().enumerate().map(|(i, inp)| {
        let h = format_ident!("__h{}", i);
        let a = format_ident!("__a{}", i);
        let ty = &inp.ty;
        let off = inp.offset;
        let frame = quote!(<<__G as #p::Graph>::Sample as #sample_trait>::__sqrtspace_frame);
        let value = match (inp.frames, off) {
            (true, 0) => quote!(#frame(__ex.frames.frame(__t)?)),
            (true, _) => quote!(match __t.checked_sub(#off) {
                ::core::option::Option::Some(__u) => ::core::option::Option::Some(#frame(__ex.frames.frame(__u)?)),
                ::core::option::Option::None => ::core::option::Option::None,
            }),
            (false, 0) => {
                let path = &alias[i];
                quote!(__ex.resolve_now::<#path>(&#h, __t))
            }
            (false, _) => {
                let path = &alias[i];
                quote!(__ex.resolve::<#path>(&#h, __t.wrapping_sub(#off)))
            }
        };
        // Spanned at the input's name, so that an upstream output that does not fit the
        // parameter reads `expected &f32, found &Vec<f32>` there (and not on the attribute).
        let value = respan(value, inp.span);
        quote_spanned!(inp.span => let #a: #ty = #value;)
    });
    let releases = m
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, i)| !i.frames)
        .map(|(i, inp)| {
            let h = format_ident!("__h{}", i);
            let path = &alias[i];
            let off = inp.offset;
            quote!(__ex.release_spent::<#path>(#h, __t.wrapping_sub(#off));)
        });
    let call_args = m.args.iter().map(|a| match a {
        Arg::Input(i) => {
            let a = format_ident!("__a{}", i);
            quote!(#a)
        }
        Arg::State => quote!(__state),
        Arg::Params => {
            quote!(<<__G as #p::Graph>::Params as #params_trait>::__sqrtspace_params(__ex.params()))
        }
        Arg::Out => quote!(&mut __buf),
        Arg::Scratch => quote!(__scratch),
    });
    let state_param = if stateful { quote!(__state) } else { quote!(_) };
    let init_param = if m.init_params {
        quote!(__params)
    } else {
        quote!(_)
    };

    // A fallible stage's `Err(e)` becomes `Error::Stage { stage, window, source: e }`.
    let finish = if fallible {
        quote!(#p::stage_result(__out, #name_str, __t))
    } else {
        quote!(#p::Result::Ok(__out))
    };
    let marker = marker(func);
    let ty = marker_path(func);
    let call = quote!(#name(#(#call_args),*));
    let (take, call, finish) = buffers(m, &ty, &name_str, call, finish, fallible, &mut bounds);
    let reuses = m.buffers.out.is_some();
    quote! {
        #func

        #marker

        #helpers

        #aliases

        impl #p::Stage for #ty {
            type Output = #output;
            type State = #state_ty;
            const META: #p::StageMeta = #p::StageMeta {
                name: #name_str,
                id: <#ty>::__SQRTSPACE_ID,
                cost: #cost,
                stateful: #stateful,
                inputs: &[#(#metas),*],
            };
            const REUSES_OUTPUT: bool = #reuses;
        }

        impl<__G> #p::Compute<__G> for #ty
        where
            __G: #p::Graph,
            #(#graph_bounds)*
            #(#bounds)*
        {
            #[inline]
            fn init_state(#init_param: &<__G as #p::Graph>::Params) -> Self::State {
                #init
            }
            #[inline]
            fn compute(
                __ex: &mut #p::Exec<'_, __G>,
                __t: u64,
                #state_param: &mut Self::State,
            ) -> #p::Result<Self::Output, #p::Error> {
                #(#fetches)*
                #take
                let __out = {
                    #(#binds)*
                    #call
                };
                #(#releases)*
                #finish
            }
        }
    }
}

/// The parts of `compute` that the `#[out]` and `#[scratch]` parameters change: taking the
/// output buffer from the pool (`__buf`), the call (with
/// this thread's scratch as `__scratch`), and what `compute` returns (`__buf` after a call that
/// returned `()` or `Ok(())`). Without them, `call` and `finish` unchanged.
fn buffers(
    m: &Model,
    ty: &TokenStream,
    name_str: &str,
    call: TokenStream,
    finish: TokenStream,
    fallible: bool,
    bounds: &mut Vec<TokenStream>,
) -> (TokenStream, TokenStream, TokenStream) {
    let p = quote!(::sqrtspace::__private);
    let mut call = call;
    let (mut take, mut finish) = (TokenStream::new(), finish);
    if let Some((s, span)) = &m.buffers.scratch {
        // Both uses of `scratch_default` at the scratch type: a type without `Default` is one
        // error there (the library's `StageScratch` message; rustc merges the identical two).
        let fresh = quote_spanned!(*span=> #p::scratch_default::<#s>);
        call = quote! {{
            ::std::thread_local! {
                static __SQRTSPACE_SCRATCH: ::core::cell::RefCell<#s> =
                    ::core::cell::RefCell::new(#fresh());
            }
            #p::with_scratch(&__SQRTSPACE_SCRATCH, #fresh, |__scratch| #call)
        }};
    }
    if let Some((o, span)) = &m.buffers.out {
        bounds.push(quote!(__G: #p::Has<#ty>,));
        // At the output type: one error there when it has no `Default` (`StageBuffer`).
        let at = respan(quote!(#ty), *span);
        take = quote_spanned!(*span=> let mut __buf: #o = __ex.take_buffer::<#at>(););
        finish = if fallible {
            quote!(#p::stage_result(__out.map(move |()| __buf), #name_str, __t))
        } else {
            quote!({
                let () = __out;
                #p::Result::Ok(__buf)
            })
        };
    }
    (take, call, finish)
}

/// `T` when `ty` is written `Result<T, E>` (any path ending in `Result` with two type
/// arguments): the stage is fallible, its output type is `T`, and an `Err` stops the
/// evaluation with `sqrtspace::Error::Stage`.
pub(super) fn fallible_output(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let (ok, _err) = (types.next()?, types.next()?);
    types.next().is_none().then_some(ok)
}

/// The hidden marker struct that shares the function's name, and its inherent id.
///
/// Always `pub` (and hidden): a pipeline's public `Graph` impl names its output stage's
/// marker, which rustc requires to be nominally public (E0446). The function keeps its own
/// visibility. Spanned at the function's name, so that rustc's "a struct with a similar name
/// exists" for a misspelt input points at the stage's `fn name`.
///
/// The struct is defined in a hidden module and re-exported under the function's name, and
/// the generated impls name it by its path in that module ([`marker_path`]): when the
/// function's name is taken in the type namespace (a `mod energy` beside `fn energy`), the
/// re-export is then the one error ("the name `energy` is defined multiple times"), and the
/// impls still find their type instead of failing once each on the module.
fn marker(func: &syn::ItemFn) -> TokenStream {
    let name = &func.sig.ident;
    let name_str = name.to_string();
    let module = marker_module(func);
    let doc = format!(
        "Marker of stage [`{name_str}()`]: its metadata and evaluation (generated by `#[stage]`)."
    );
    quote_spanned! {name.span()=>
        #[doc(hidden)]
        #[allow(non_snake_case)]
        mod #module {
            #[doc = #doc]
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code, unreachable_pub)]
            pub struct #name {}
        }
        #[doc(hidden)]
        #[allow(unused_imports, unreachable_pub)]
        pub use #module::#name;

        #[allow(dead_code, unreachable_pub)]
        impl #module::#name {
            /// A crate-wide unique id: `module_path!()::name` (`StageMeta::id`).
            #[doc(hidden)]
            pub const __SQRTSPACE_ID: &'static str = ::core::concat!(::core::module_path!(), "::", #name_str);
        }
    }
}

/// The hidden module that defines a stage's marker struct.
fn marker_module(func: &syn::ItemFn) -> syn::Ident {
    let name = &func.sig.ident;
    format_ident!("__sqrtspace_stage_{}", name, span = name.span())
}

/// The marker struct's path through its hidden module (see [`marker`]).
fn marker_path(func: &syn::ItemFn) -> TokenStream {
    let name = &func.sig.ident;
    let module = marker_module(func);
    quote_spanned!(name.span()=> #module::#name)
}

/// What is emitted when a check failed: the function, and a marker with stub impls so that
/// pipelines naming this stage report no secondary errors.
///
/// The marker's metadata keeps the inputs as written (those that name another stage), so that
/// the pipeline's graph checks (the default output, cycles) see the stage's real edges and
/// report nothing about it either.
pub fn fallback(
    func: &syn::ItemFn,
    inputs: Option<&[InputRef]>,
    declared_out: Option<&syn::Type>,
) -> TokenStream {
    // A method (it takes `self`) sits in an impl block, where no struct or impl may follow it.
    if func.sig.receiver().is_some() {
        return quote!(#func);
    }
    let name = &func.sig.ident;
    let name_str = name.to_string();
    let p = quote!(::sqrtspace::__private);
    let marker = marker(func);
    let ty = marker_path(func);
    // The declared output type, so that downstream stages type-check against it and report
    // nothing; `()` where it cannot stand alone (a reference, a generic parameter, `impl _`).
    let mut local: Vec<String> = vec!["impl".into()];
    for g in &func.sig.generics.params {
        local.push(match g {
            syn::GenericParam::Type(t) => t.ident.to_string(),
            syn::GenericParam::Const(c) => c.ident.to_string(),
            syn::GenericParam::Lifetime(l) => l.lifetime.ident.to_string(),
        });
    }
    // With an `#[out] o: &mut O` parameter, `O` is the output.
    let returned = match declared_out {
        Some(o) => syn::ReturnType::Type(Default::default(), Box::new(o.clone())),
        None => func.sig.output.clone(),
    };
    let output = match &returned {
        syn::ReturnType::Type(_, t)
            if !matches!(**t, syn::Type::Reference(_))
                && !mentions(t.to_token_stream(), &local) =>
        {
            quote!(#t)
        }
        _ => quote!(()),
    };
    let metas = inputs.unwrap_or_default().iter().filter_map(|r| {
        if r.is_frames() || r.path.is_ident(&name_str) {
            return None;
        }
        let path = &r.path;
        let iname = r.name();
        let off = r.offset.map_or(0, |(v, _)| v.unsigned_abs());
        Some(quote_spanned!(located_at(path.span()) => #p::InputMeta { name: #iname, stage: ::core::option::Option::Some(<#path>::__SQRTSPACE_ID), offset: #off }))
    });
    quote! {
        #func

        #marker

        impl #p::Stage for #ty {
            type Output = #output;
            type State = ();
            const META: #p::StageMeta = #p::StageMeta {
                name: #name_str,
                id: <#ty>::__SQRTSPACE_ID,
                cost: 1,
                stateful: false,
                inputs: &[#(#metas),*],
            };
        }

        impl<__G: #p::Graph> #p::Compute<__G> for #ty {
            fn init_state(_: &<__G as #p::Graph>::Params) {}
            fn compute(_: &mut #p::Exec<'_, __G>, _: u64, _: &mut ()) -> #p::Result<Self::Output, #p::Error> {
                ::core::unreachable!("stage with compile errors")
            }
        }
    }
}

/// Whether `tokens` contain one of the identifiers `names` (lifetimes included, without `'`).
fn mentions(tokens: TokenStream, names: &[String]) -> bool {
    tokens.into_iter().any(|tt| match tt {
        proc_macro2::TokenTree::Ident(i) => names.iter().any(|n| i == n),
        proc_macro2::TokenTree::Group(g) => mentions(g.stream(), names),
        _ => false,
    })
}
