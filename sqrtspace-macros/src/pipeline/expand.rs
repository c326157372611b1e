//! Code generation for `pipeline!`: the pipeline marker type with its constants (stage
//! metadata, topological order, costs, DOT, Mermaid), typed slots, the `Graph` impl with its
//! index dispatch, one `Has<S>` impl per stage, and the `const _` graph check.

use super::analyze::Model;
use super::parse::PipelineDecl;
use crate::errors::{located_at, respan};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

pub fn expand(decl: &PipelineDecl, m: &Model) -> TokenStream {
    let p = quote!(::sqrtspace::__private);
    let PipelineDecl {
        attrs,
        vis,
        name,
        stages,
        ..
    } = decl;
    let name_str = name.to_string();
    let n = stages.len();
    let slots = format_ident!("__{}Slots", name);
    let fields: Vec<_> = (0..n).map(|i| format_ident!("s{}", i)).collect();
    let idx: Vec<usize> = (0..n).collect();
    let sample = &m.sample;
    let params = &m.params;
    let out_index = &m.outputs;
    let out_paths: Vec<&syn::Path> = out_index.iter().map(|&i| &stages[i]).collect();

    // Every use that needs `S: Compute<Self>` (its inputs are in this pipeline, its params and
    // sample types match) goes through this one function, at the stage's entry in `stages`:
    // rustc then reports an unsatisfied bound once, not once per runtime entry point.
    let ops = format_ident!(
        "__sqrtspace_ops_{}",
        name,
        span = located_at(decl.stages_span)
    );
    let ops_bound = respan(quote!(S: #p::Compute<#name>,), decl.stages_span);
    let ops_fn = quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, clippy::type_complexity)]
        #[inline(always)]
        const fn #ops<S>() -> (
            fn(&mut #p::Exec<'_, #name>, ::core::ops::Range<u64>) -> #p::Result<(), #p::Error>,
            fn(&mut #p::Exec<'_, #name>, u64) -> #p::Result<usize, #p::Error>,
            fn(&mut #p::Exec<'_, #name>, u64) -> #p::Result<#p::Held<<S as #p::Stage>::Output>, #p::Error>,
            fn(&mut #p::Exec<'_, #name>, u64) -> #p::Result<<S as #p::Stage>::Output, #p::Error>,
            fn(&mut #p::Exec<'_, #name>, u64) -> #p::Result<<S as #p::Stage>::Output, #p::Error>,
        )
        where
            #name: #p::Has<S>,
            #ops_bound
        {
            (
                #p::classic_column::<#name, S>,
                #p::probe_stage::<#name, S>,
                #p::fetch::<#name, S>,
                #p::fetch_owned::<#name, S>,
                #p::fetch_output::<#name, S>,
            )
        }
    };
    let op = |s: &syn::Path, i: syn::Index| respan(quote!((const { #ops::<#s>() }.#i)), s.span());
    let classic_ops: Vec<_> = stages.iter().map(|s| op(s, syn::Index::from(0))).collect();
    let probe_ops: Vec<_> = stages.iter().map(|s| op(s, syn::Index::from(1))).collect();
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
        let o = out_paths[0];
        let f = op(o, syn::Index::from(3));
        (quote!(<#o as #p::Stage>::Output), quote!(#f(ex, t)))
    };

    let has_impls = stages.iter().zip(&fields).enumerate().map(|(i, (s, f))| {
        let fetch = op(s, syn::Index::from(2));
        quote_spanned! {located_at(s.span())=>
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
    // Duplicates and cycles are rejected where the order is computed (rustc evaluates the
    // constants of a non-generic impl even when unused), before `topo` could fail with a
    // less precise message. Spanned at the `stages` list.
    let topo = respan(
        quote!({
            #p::check_graph::<#n>(#name::STAGES, #name_str);
            #p::topo::<#n>(#name::STAGES)
        }),
        decl.stages_span,
    );
    let doc_dot = format!("The stage graph of `{name_str}` in Graphviz DOT.");
    let doc_mermaid = format!("The stage graph of `{name_str}` as a Mermaid flowchart.");

    quote! {
        #(#attrs)*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #vis struct #name;

        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case)]
        #vis struct #slots {
            #(#fields: #p::Slot<#stages>,)*
        }

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
            /// Stage indices (into `STAGES`) in topological order.
            pub const TOPO: [usize; #n] = #topo;
            /// Recompute-cost hints in declaration order.
            pub const COSTS: [u32; #n] = [#(<#stages as #p::Stage>::META.cost),*];
            #[doc = #doc_dot]
            pub const DOT: &'static str = {
                const LEN: usize = #p::render_len(#name::STAGES, #name_str, #p::Format::Dot);
                const BUF: [u8; LEN] = #p::render::<LEN>(#name::STAGES, #name_str, #p::Format::Dot);
                #p::as_str(&BUF)
            };
            #[doc = #doc_mermaid]
            pub const MERMAID: &'static str = {
                const LEN: usize = #p::render_len(#name::STAGES, #name_str, #p::Format::Mermaid);
                const BUF: [u8; LEN] = #p::render::<LEN>(#name::STAGES, #name_str, #p::Format::Mermaid);
                #p::as_str(&BUF)
            };

            /// A pipeline instance with `config` (validated) and runtime `params`.
            ///
            /// # Errors
            /// `sqrtspace::Error::Config` when `config` is invalid.
            pub fn new(config: ::sqrtspace::Config, params: #params) -> #p::Result<::sqrtspace::Pipeline<#name>, #p::Error> {
                ::sqrtspace::Pipeline::new(config, params)
            }
        }

        // Rejects duplicate stages and cycles at compile time, `cargo check` included.
        const _: [usize; #n] = #name::TOPO;

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
            fn state_bytes() -> usize {
                // Generic, so that a state type that is not `ByteSize` is reported once, at
                // the stage, and not again here.
                fn bytes<S: #p::Stage>() -> usize {
                    if S::META.stateful {
                        #p::ByteSize::byte_size(&S::init_state())
                    } else {
                        0
                    }
                }
                0 #(+ bytes::<#stages>())*
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

    }
}

/// Emitted when `check` failed: the marker type alone, so uses of it report nothing else.
pub fn fallback(decl: &PipelineDecl) -> TokenStream {
    let PipelineDecl {
        attrs, vis, name, ..
    } = decl;
    quote! {
        #(#attrs)*
        #vis struct #name;
    }
}
