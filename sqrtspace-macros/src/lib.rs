//! Procedural macros of [sqrtspace](https://docs.rs/sqrtspace): `#[stage]` and `pipeline!`.
//! Use them through the `sqrtspace` crate, which re-exports them and documents their syntax.
//!
//! Each macro runs four phases: parse (syntax only) -> check (semantic errors, all collected)
//! -> analyze (what the expansion needs) -> expand. Entry points convert to `proc_macro2` and
//! call testable functions.
#![forbid(unsafe_code)]

mod bytesize;
mod errors;
mod pipeline;
mod stage;

use proc_macro::TokenStream;

/// Declares a pipeline stage. See `sqrtspace::stage` for the syntax.
#[proc_macro_attribute]
pub fn stage(args: TokenStream, item: TokenStream) -> TokenStream {
    stage::stage(args.into(), item.into()).into()
}

/// Declares a pipeline type from stages. See `sqrtspace::pipeline` for the syntax.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    pipeline::pipeline(input.into()).into()
}

/// Derives `sqrtspace::ByteSize` for a struct or an enum: its heap bytes are the sum of its
/// fields' heap bytes. See `sqrtspace::ByteSize`.
#[proc_macro_derive(ByteSize)]
pub fn derive_byte_size(input: TokenStream) -> TokenStream {
    bytesize::derive(input.into()).into()
}
