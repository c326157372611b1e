//! Code generation for `pipeline!`: the pipeline marker type with its constants (stage
//! metadata, topological order, costs, DOT, Mermaid), typed slots, the `Graph` impl with its
//! index dispatch, one `Has<S>` impl per stage, and the `const _` graph check.

use super::analyze::Model;
use super::parse::PipelineDecl;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

pub fn expand(decl: &PipelineDecl, m: &Model) -> TokenStream {
    let p = quote!(::sqrtspace::__private);
    let PipelineDecl { attrs, vis, name, stages, .. } = decl;
    let name_str = name.to_string();
    let n = stages.len();
    let slots = format_ident!("__{}Slots", name);
    let fields: Vec<_> = (0..n).map(|i| format_ident!("s{}", i)).collect();
    let idx: Vec<usize> = (0..n).collect();
    let sample = &m.sample;
    let params = &m.params;
    let output = &m.output;

    let has_impls = stages.iter().zip(&fields).enumerate().map(|(i, (s, f))| {
        quote_spanned! {s.span()=>
            impl #p::Has<#s> for #name {
                const INDEX: usize = #i;
                #[inline]
                fn slot(slots: &#slots) -> &#p::Slot<#s> { &slots.#f }
                #[inline]
                fn slot_mut(slots: &mut #slots) -> &mut #p::Slot<#s> { &mut slots.#f }
                #[inline]
                fn fetch(ex: &mut #p::Exec<'_, Self>, t: u64) -> #p::Result<#p::Held<<#s as #p::Stage>::Output>, #p::Error> {
                    #p::fetch::<Self, #s>(ex, t)
                }
            }
        }
    });
    let check_item = quote_spanned! {decl.stages_span=>
        const _: () = #p::check_graph::<#n>(#name::STAGES, #name_str);
    };
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
            pub const TOPO: [usize; #n] = #p::topo::<#n>(#name::STAGES);
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

        // Rejects duplicate stages and cycles at compile time (a `const` item, so `cargo check`
        // evaluates it too).
        #check_item

        impl #p::Graph for #name {
            type Sample = #sample;
            type Params = #params;
            type Output = #output;
            type Slots = #slots;
            const NAME: &'static str = #name_str;
            const STAGES: &'static [#p::StageMeta] = #name::STAGES;
            const TOPO: &'static [usize] = &#name::TOPO;

            fn evict_output(slots: &mut #slots, stage: usize, t: u64) {
                match stage {
                    #(#idx => slots.#fields.__evict_output(t),)*
                    _ => {}
                }
            }
            fn evict_checkpoint(slots: &mut #slots, stage: usize, t: u64) {
                match stage {
                    #(#idx => slots.#fields.__evict_checkpoint(t),)*
                    _ => {}
                }
            }
            fn classic_column(
                ex: &mut #p::Exec<'_, Self>,
                stage: usize,
                range: ::core::ops::Range<u64>,
            ) -> #p::Result<(), #p::Error> {
                match stage {
                    #(#idx => #p::classic_column::<Self, #stages>(ex, range),)*
                    _ => #p::Result::Ok(()),
                }
            }
            fn clear_columns(slots: &mut #slots) {
                #(slots.#fields.__clear_column();)*
            }
            fn clear_all(slots: &mut #slots) {
                #(slots.#fields.__clear_all();)*
            }
            fn state_bytes() -> usize {
                let mut bytes = 0;
                #(
                    if <#stages as #p::Stage>::META.stateful {
                        bytes += #p::ByteSize::byte_size(&<#stages as #p::Stage>::init_state());
                    }
                )*
                bytes
            }
            fn probe(ex: &mut #p::Exec<'_, Self>, t: u64, bytes: &mut [usize]) -> #p::Result<(), #p::Error> {
                #( bytes[#idx] = #p::probe_stage::<Self, #stages>(ex, t)?; )*
                #p::Result::Ok(())
            }
        }

        #(#has_impls)*

    }
}

/// Emitted when `check` failed: the marker type alone, so uses of it report nothing else.
pub fn fallback(decl: &PipelineDecl) -> TokenStream {
    let PipelineDecl { attrs, vis, name, .. } = decl;
    quote! {
        #(#attrs)*
        #vis struct #name;
    }
}
