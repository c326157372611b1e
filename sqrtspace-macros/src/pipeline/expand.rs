//! Code generation for `pipeline!`: the pipeline marker type with its constants (stage
//! metadata, topological order, costs, DOT, Mermaid), typed slots, the `Graph` impl with its
//! index dispatch, one `Has<S>` impl per stage, and the `const _` graph check.

use super::analyze::Model;
use super::parse::PipelineDecl;
use crate::errors::{located_at, respan};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

pub fn expand(decl: &PipelineDecl, m: &Model, tag: &str) -> TokenStream {
    let p = quote!(::sqrtspace::__private);
    let PipelineDecl {
        attrs,
        vis,
        name: ident,
        stages,
        ..
    } = decl;
    let name_str = ident.to_string();
    let n = stages.len();
    // The pipeline type is defined in a hidden module of this call and re-exported under its
    // name, and every generated item names it by its path in that module (or carries `tag`):
    // a second `pipeline!` of the same name in the same module then defines its own type and
    // items, and the one error is the re-export's "the name `Name` is defined multiple times"
    // (not also conflicting impls and duplicate definitions for each generated item).
    let module = format_ident!("__sqrtspace_pipeline_{}_{}", ident, tag);
    let name = &quote_spanned!(located_at(ident.span())=> #module::#ident);
    let slots = format_ident!("__{}Slots_{}", ident, tag);
    let inner_vis = inner_visibility(vis);
    let fields: Vec<_> = (0..n).map(|i| format_ident!("s{}", i)).collect();
    let idx: Vec<usize> = (0..n).collect();
    let sample = &m.sample;
    let params = &m.params;
    let (sink_items, sink_const, out_paths, out_index) = if m.sink_default {
        let (items, sink_const, ty) = sink(decl, name, tag);
        (
            items,
            sink_const,
            vec![ty],
            vec![quote!(#name::__SQRTSPACE_SINK)],
        )
    } else {
        let out_paths: Vec<TokenStream> = m
            .outputs
            .iter()
            .map(|&i| stages[i].to_token_stream())
            .collect();
        let idx = m.outputs.iter().map(|i| quote!(#i)).collect();
        (TokenStream::new(), TokenStream::new(), out_paths, idx)
    };
    let out_index = &out_index;

    // Every use that needs `S: Compute<Self>` (its inputs are in this pipeline, its params and
    // sample types match) goes through this one function, at the stage's entry in `stages`:
    // rustc then reports an unsatisfied bound once, not once per runtime entry point.
    let ops = format_ident!(
        "__sqrtspace_ops_{}_{}",
        ident,
        tag,
        span = located_at(decl.stages_span)
    );
    let ops_bound = respan(quote!(__S: #p::Compute<#name>,), decl.stages_span);
    let ops_fn = quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, clippy::type_complexity)]
        #[inline(always)]
        const fn #ops<__S>() -> (
            fn(&mut #p::Exec<'_, #name>, ::core::ops::Range<u64>) -> #p::Result<(), #p::Error>,
            fn(&mut #p::Exec<'_, #name>, u64) -> #p::Result<usize, #p::Error>,
            fn(&mut #p::Exec<'_, #name>, u64) -> #p::Result<#p::Held<<__S as #p::Stage>::Output>, #p::Error>,
            fn(&mut #p::Exec<'_, #name>, u64) -> #p::Result<<__S as #p::Stage>::Output, #p::Error>,
            fn(&mut #p::Exec<'_, #name>, u64) -> #p::Result<<__S as #p::Stage>::Output, #p::Error>,
            fn(&#params) -> usize,
        )
        where
            #name: #p::Has<__S>,
            #ops_bound
        {
            (
                #p::classic_column::<#name, __S>,
                #p::probe_stage::<#name, __S>,
                #p::fetch::<#name, __S>,
                #p::fetch_owned::<#name, __S>,
                #p::fetch_output::<#name, __S>,
                #p::state_bytes::<#name, __S>,
            )
        }
    };
    let op = |s: &dyn ToTokens, i: syn::Index| {
        let span = s.to_token_stream().span();
        respan(quote!((const { #ops::<#s>() }.#i)), span)
    };
    let classic_ops: Vec<_> = stages.iter().map(|s| op(s, syn::Index::from(0))).collect();
    let probe_ops: Vec<_> = stages.iter().map(|s| op(s, syn::Index::from(1))).collect();
    let state_ops: Vec<_> = stages.iter().map(|s| op(s, syn::Index::from(5))).collect();
    // `output: s` emits `s`'s output, computed without caching it; `output: [a, b]` the tuple,
    // each fetched like an input (an output another output reads is computed once).
    let (output_ty, output_body) = if m.output_list {
        let tys = out_paths.iter().map(|o| quote!(<#o as #p::Stage>::Output));
        let calls = out_paths.iter().map(|o| {
            let f = op(o, syn::Index::from(4));
            quote!(#f(ex, t)?)
        });
        (quote!((#(#tys,)*)), quote!(#p::Result::Ok((#(#calls,)*))))
    } else {
        let o = &out_paths[0];
        let f = op(o, syn::Index::from(3));
        (quote!(<#o as #p::Stage>::Output), quote!(#f(ex, t)))
    };

    let has_impls = stages.iter().zip(&fields).enumerate().map(|(i, (s, f))| {
        let fetch = op(s, syn::Index::from(2));
        quote_spanned! {located_at(s.span())=>
            #[doc(hidden)]
            impl #p::Has<#s> for #name {
                const INDEX: usize = #i;
                #[inline]
                fn slot(slots: &#slots) -> &#p::Slot<#s> { &slots.#f }
                #[inline]
                fn slot_mut(slots: &mut #slots) -> &mut #p::Slot<#s> { &mut slots.#f }
                #[inline]
                fn fetch(ex: &mut #p::Exec<'_, Self>, t: u64) -> #p::Result<#p::Held<<#s as #p::Stage>::Output>, #p::Error> {
                    #fetch(ex, t)
                }
            }
        }
    });
    // The order; duplicates and cycles are rejected by `check` below, in an anonymous constant
    // (on a cycle `topo` returns the declaration order, so there is one error). Spanned at the
    // `stages` list.
    let topo = respan(
        quote!(#p::topo::<#n, { #ident::__SQRTSPACE_EDGES }>(#ident::STAGES, &#ident::__SQRTSPACE_DEPS)),
        decl.stages_span,
    );
    let check = respan(
        quote!(#p::check_graph::<#n>(#name::STAGES, &#name::__SQRTSPACE_DEPS, #name_str)),
        decl.stages_span,
    );
    let doc_dot = format!("The stage graph of `{name_str}` in Graphviz DOT.");
    let doc_mermaid = format!("The stage graph of `{name_str}` as a Mermaid flowchart.");

    quote! {
        #[doc(hidden)]
        #[allow(non_snake_case)]
        mod #module {
            #[allow(unused_imports)]
            use super::*;
            #(#attrs)*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            #[allow(unreachable_pub)]
            #inner_vis struct #ident;

            // The graph constants, in an impl beside the type (they read only `STAGES`), so
            // that rustc names a failed check `Name::TOPO`. They are `O((N + E) log N)` in the
            // const evaluator (an interpreter): a pipeline of some thousands of stages can take
            // longer than rustc's default const-evaluation budget, which is a lint, not a limit.
            #[allow(dead_code, long_running_const_eval, unreachable_pub)]
            impl #ident {
                /// The number of input edges of the stages.
                #[doc(hidden)]
                pub const __SQRTSPACE_EDGES: usize = #p::edge_count(#ident::STAGES);
                /// The upstream stage index of every input edge (`sqrtspace::graph::resolve`): the
                /// stage ids are compared once, here, not per edge in every graph constant.
                #[doc(hidden)]
                pub const __SQRTSPACE_DEPS: [usize; #ident::__SQRTSPACE_EDGES] =
                    #p::resolve::<#n, { #ident::__SQRTSPACE_EDGES }>(#ident::STAGES);
                /// Stage indices (into `STAGES`) in topological order.
                pub const TOPO: [usize; #n] = #topo;
                #[doc = #doc_dot]
                pub const DOT: &'static str = {
                    const __LEN: usize = #p::render_len(#ident::STAGES, &#ident::__SQRTSPACE_DEPS, #name_str, #p::Format::Dot);
                    const __BUF: [u8; __LEN] = #p::render::<__LEN>(#ident::STAGES, &#ident::__SQRTSPACE_DEPS, #name_str, #p::Format::Dot);
                    #p::as_str(&__BUF)
                };
                #[doc = #doc_mermaid]
                pub const MERMAID: &'static str = {
                    const __LEN: usize = #p::render_len(#ident::STAGES, &#ident::__SQRTSPACE_DEPS, #name_str, #p::Format::Mermaid);
                    const __BUF: [u8; __LEN] = #p::render::<__LEN>(#ident::STAGES, &#ident::__SQRTSPACE_DEPS, #name_str, #p::Format::Mermaid);
                    #p::as_str(&__BUF)
                };
            }

            #sink_const
        }
        #[allow(unused_imports)]
        #vis use #module::#ident;

        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case)]
        #vis struct #slots {
            #(#fields: #p::Slot<#stages>,)*
        }

        #[doc(hidden)]
        impl ::core::default::Default for #slots {
            fn default() -> Self {
                #slots { #(#fields: ::core::default::Default::default(),)* }
            }
        }

        #[allow(dead_code)]
        impl #name {
            /// Stage metadata in declaration order.
            pub const STAGES: &'static [#p::StageMeta] = &[#(<#stages as #p::Stage>::META),*];
            /// Stage names in declaration order.
            pub const STAGE_NAMES: [&'static str; #n] = [#(<#stages as #p::Stage>::META.name),*];
            /// Recompute-cost hints in declaration order.
            pub const COSTS: [u32; #n] = [#(<#stages as #p::Stage>::META.cost),*];

            /// A pipeline instance with `config` (validated) and runtime `params`.
            ///
            /// # Errors
            /// `sqrtspace::Error::Config` when `config` is invalid.
            pub fn new(config: ::sqrtspace::Config, params: #params) -> #p::Result<::sqrtspace::Pipeline<#name>, #p::Error> {
                ::sqrtspace::Pipeline::new(config, params)
            }
        }

        // Rejects duplicate stages and cycles at compile time, `cargo check` included. An
        // anonymous constant here, not `TOPO`'s evaluation: rustc names the constant whose
        // evaluation failed, and `TOPO`'s path runs through the hidden module.
        #[allow(long_running_const_eval)]
        const _: () = #check;

        #[doc(hidden)]
        impl #p::Graph for #name {
            type Sample = #sample;
            type Params = #params;
            type Output = #output_ty;
            const OUTPUTS: &'static [usize] = &[#(#out_index),*];
            type Slots = #slots;
            const NAME: &'static str = #name_str;
            const STAGES: &'static [#p::StageMeta] = #name::STAGES;
            const TOPO: &'static [usize] = &#name::TOPO;

            fn evict_output(slots: &mut #slots, stage: usize, t: u64) {
                match stage {
                    #(#idx => #p::evict_output(&mut slots.#fields, t),)*
                    _ => {}
                }
            }
            fn evict_checkpoint(slots: &mut #slots, stage: usize, t: u64) {
                match stage {
                    #(#idx => #p::evict_checkpoint(&mut slots.#fields, t),)*
                    _ => {}
                }
            }
            fn classic_column(
                ex: &mut #p::Exec<'_, Self>,
                stage: usize,
                range: ::core::ops::Range<u64>,
            ) -> #p::Result<(), #p::Error> {
                match stage {
                    #(#idx => #classic_ops(ex, range),)*
                    _ => #p::Result::Ok(()),
                }
            }
            fn clear_columns(slots: &mut #slots) {
                #(#p::clear_column(&mut slots.#fields);)*
            }
            fn clear_all(slots: &mut #slots) {
                #(#p::clear_slot(&mut slots.#fields);)*
            }
            fn state_bytes(params: &#params) -> usize {
                0 #(+ #state_ops(params))*
            }
            #[inline]
            fn output(ex: &mut #p::Exec<'_, Self>, t: u64) -> #p::Result<Self::Output, #p::Error> {
                #output_body
            }
            fn probe(ex: &mut #p::Exec<'_, Self>, t: u64, bytes: &mut [usize]) -> #p::Result<(), #p::Error> {
                #( bytes[#idx] = #probe_ops(ex, t)?; )*
                #p::Result::Ok(())
            }
        }

        #(#has_impls)*

        #ops_fn

        #sink_items

    }
}

/// The visibility, inside the hidden module, of a type declared with `vis` in its parent: the
/// same reach (`pub(super)` for a private type, so that it stays private to the parent).
fn inner_visibility(vis: &syn::Visibility) -> TokenStream {
    match vis {
        syn::Visibility::Public(_) => quote!(pub),
        syn::Visibility::Inherited => quote!(pub(super)),
        syn::Visibility::Restricted(r) => {
            let path = &r.path;
            if path.is_ident("crate") {
                quote!(pub(crate))
            } else if path.is_ident("self") {
                quote!(pub(super))
            } else if path.is_ident("super") {
                quote!(pub(in super::super))
            } else if path.segments.first().is_some_and(|s| s.ident == "crate") {
                quote!(#vis)
            } else {
                // `pub(in super::m)` and the like: relative paths would move one level down.
                quote!(pub(crate))
            }
        }
    }
}

/// Without `output:`, the pipeline emits its unique sink, the stage that no other stage reads.
/// Which stage that is needs the stages' inputs, known only from their metadata: a constant
/// `__SQRTSPACE_SINK` finds it (and fails with the sinks' names when there are several), and
/// a hidden trait indexed by that constant names the stage's type. Returns the items for the
/// caller's scope, the constant's impl (for the hidden module beside the type, see [`expand`])
/// and the output stage's type. `name` is the type's path, `tag` the call's name suffix.
fn sink(
    decl: &PipelineDecl,
    name: &TokenStream,
    tag: &str,
) -> (TokenStream, TokenStream, TokenStream) {
    let p = quote!(::sqrtspace::__private);
    let PipelineDecl {
        vis,
        name: ident,
        stages,
        ..
    } = decl;
    let n = stages.len();
    let name_str = ident.to_string();
    let pick = format_ident!("__sqrtspace_pick_{}_{}", ident, tag);
    let picks = stages.iter().enumerate().map(|(i, s)| {
        quote! { impl #pick<#i> for #name { type Stage = #s; } }
    });
    let prefix = format!("pipeline `{name_str}` has no `output:` and several sinks (stages that no other stage reads): ");
    let middle = "; which does it emit?\n\nhelp: name the output stage: `output: ";
    let suffix = "`, or several with `output: [a, b]`";
    let names_len: usize = stages
        .iter()
        .map(|s| s.segments.last().map_or(0, |g| g.ident.to_string().len()) + 4)
        .sum();
    let cap = prefix.len() + middle.len() + suffix.len() + names_len + 64;
    // Reported at the `stages` list, like a cycle.
    let fail = respan(
        quote!(::core::panic!("{}", #p::as_str(buf.split_at(len).0));),
        decl.stages_span,
    );
    // The index of the sink (the last one when there are several); with `report`, the error
    // that names the sinks when there are several.
    let find = |path: &TokenStream, report: bool| {
        let report = if report {
            quote! {
                if count > 1 {
                    const fn put(buf: &mut [u8; #cap], len: usize, s: &str) -> usize {
                        let s = s.as_bytes();
                        let mut i = 0;
                        while i < s.len() && len + i < #cap {
                            buf[len + i] = s[i];
                            i += 1;
                        }
                        len + i
                    }
                    let st = #path::STAGES;
                    let mut buf = [0u8; #cap];
                    let mut len = put(&mut buf, 0, #prefix);
                    let mut first = true;
                    let mut i = 0;
                    while i < #n {
                        if !read[i] {
                            if !first {
                                len = put(&mut buf, len, ", ");
                            }
                            first = false;
                            len = put(&mut buf, len, "`");
                            len = put(&mut buf, len, st[i].name);
                            len = put(&mut buf, len, "`");
                        }
                        i += 1;
                    }
                    len = put(&mut buf, len, #middle);
                    len = put(&mut buf, len, st[found].name);
                    len = put(&mut buf, len, #suffix);
                    #fail
                }
            }
        } else {
            quote!(let _ = count;)
        };
        quote! {{
            let deps = &#path::__SQRTSPACE_DEPS;
            let mut read = [false; #n];
            let mut k = 0;
            while k < deps.len() {
                if deps[k] < #n {
                    read[deps[k]] = true;
                }
                k += 1;
            }
            let mut count = 0;
            let mut found = #n - 1;
            let mut i = #n;
            while i > 0 {
                i -= 1;
                if !read[i] {
                    count += 1;
                    found = i;
                }
            }
            // No sink at all is a cycle, reported by the graph check.
            #report
            found
        }}
    };
    let pick_sink = find(&quote!(#ident), false);
    let sink_check = find(name, true);
    let items = quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis trait #pick<const __I: usize> {
            type Stage;
        }
        #(#picks)*

        // Several sinks: an anonymous constant fails, so that rustc's note names no hidden path.
        #[allow(long_running_const_eval)]
        const _: usize = #sink_check;
    };
    // In the hidden module beside the type (see `expand`), so that a failure reads
    // `Name::__SQRTSPACE_SINK`.
    // The index of the sink; `fail`: the error when there are several (else the last one).
    let sink_const = quote! {
        #[allow(long_running_const_eval, unreachable_pub)]
        impl #ident {
            /// Index of the stage that no other stage reads: the default output.
            #[doc(hidden)]
            pub const __SQRTSPACE_SINK: usize = #pick_sink;
        }
    };
    let ty = respan(
        quote!(<#name as #pick<{ #name::__SQRTSPACE_SINK }>>::Stage),
        decl.stages_span,
    );
    (items, sink_const, ty)
}

/// Emitted when `check` failed: the pipeline type with a stub `Graph` impl (it contains every
/// stage, emits the declared output's type) and its `new`, so that uses of it (`new`,
/// `evaluate::<s>`, `push_samples`) type-check and the check's error is the only one.
pub fn fallback(decl: &PipelineDecl) -> TokenStream {
    let p = quote!(::sqrtspace::__private);
    let PipelineDecl {
        attrs,
        vis,
        name,
        stages,
        ..
    } = decl;
    let name_str = name.to_string();
    // A sample type `check` rejected is replaced, so that it is not reported again.
    let sample = decl
        .sample
        .clone()
        .filter(|t| !super::check::not_a_sample(t))
        .unwrap_or_else(|| syn::parse_quote!(f32));
    let params = decl.params.clone().unwrap_or_else(|| syn::parse_quote!(()));
    // Only outputs that name a listed stage: an unknown one is the error being reported.
    let known = |o: &syn::Path| {
        super::check::stage_index(&decl.stages, o).map(|i| {
            let s = &decl.stages[i];
            quote!(<#s as #p::Stage>::Output)
        })
    };
    let output = match &decl.output {
        Some(super::parse::Output::One(o)) => known(o).unwrap_or_else(|| quote!(())),
        Some(super::parse::Output::List { paths, .. }) => {
            let tys: Option<Vec<_>> = paths.iter().map(known).collect();
            match tys {
                Some(tys) => quote!((#(#tys,)*)),
                None => quote!(()),
            }
        }
        None => match decl.stages.last() {
            Some(s) => quote!(<#s as #p::Stage>::Output),
            None => quote!(()),
        },
    };
    quote! {
        #(#attrs)*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #vis struct #name;

        #[allow(dead_code)]
        impl #name {
            /// A pipeline instance (this declaration has compile errors).
            pub fn new(config: ::sqrtspace::Config, params: #params) -> #p::Result<::sqrtspace::Pipeline<#name>, #p::Error> {
                ::sqrtspace::Pipeline::new(config, params)
            }
        }

        #[doc(hidden)]
        impl #p::Graph for #name {
            type Sample = #sample;
            type Params = #params;
            type Output = #output;
            const OUTPUTS: &'static [usize] = &[];
            type Slots = ();
            const NAME: &'static str = #name_str;
            const STAGES: &'static [#p::StageMeta] = &[];
            const TOPO: &'static [usize] = &[];
            fn evict_output(_: &mut (), _: usize, _: u64) {}
            fn evict_checkpoint(_: &mut (), _: usize, _: u64) {}
            fn classic_column(_: &mut #p::Exec<'_, Self>, _: usize, _: ::core::ops::Range<u64>) -> #p::Result<(), #p::Error> {
                ::core::unreachable!("pipeline with compile errors")
            }
            fn clear_columns(_: &mut ()) {}
            fn clear_all(_: &mut ()) {}
            fn state_bytes(_: &Self::Params) -> usize { 0 }
            fn output(_: &mut #p::Exec<'_, Self>, _: u64) -> #p::Result<Self::Output, #p::Error> {
                ::core::unreachable!("pipeline with compile errors")
            }
            fn probe(_: &mut #p::Exec<'_, Self>, _: u64, _: &mut [usize]) -> #p::Result<(), #p::Error> {
                ::core::unreachable!("pipeline with compile errors")
            }
        }

        // Names every listed stage, as the full expansion would (imports stay used).
        const _: () = {
            #(let _ = <#stages as #p::Stage>::META;)*
        };

        impl<__S: #p::Stage> #p::Has<__S> for #name {
            const INDEX: usize = 0;
            fn slot(_: &()) -> &#p::Slot<__S> {
                ::core::unreachable!("pipeline with compile errors")
            }
            fn slot_mut(_: &mut ()) -> &mut #p::Slot<__S> {
                ::core::unreachable!("pipeline with compile errors")
            }
            fn fetch(_: &mut #p::Exec<'_, Self>, _: u64) -> #p::Result<#p::Held<<__S as #p::Stage>::Output>, #p::Error> {
                ::core::unreachable!("pipeline with compile errors")
            }
        }
    }
}
