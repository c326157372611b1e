//! `pipeline!`: parse -> check -> analyze -> expand.

mod analyze;
mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;

pub fn pipeline(input: TokenStream) -> TokenStream {
    let tag = call_tag(&input);
    let decl = match syn::parse2::<parse::PipelineDecl>(input) {
        Ok(d) => d,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = crate::errors::Errors::default();
    if let Some(e) = &decl.body_error {
        errors.push(e.clone());
    } else {
        check::check(&decl, &mut errors);
    }
    if !errors.is_empty() {
        let mut out = expand::fallback(&decl);
        out.extend(errors.into_compile_errors());
        return out;
    }
    let model = analyze::analyze(&decl);
    expand::expand(&decl, &model, &tag)
}

/// A name suffix that tells this `pipeline!` call from another one of the same name in the
/// same module: a hash of the call's tokens (their text, not their positions, so that an edit
/// elsewhere in the file leaves the generated names, and rustc's incremental results, alone).
fn call_tag(input: &TokenStream) -> String {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new()` has fixed keys: the same tokens give the same tag in every build.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    input.to_string().hash(&mut h);
    format!("{:08x}", h.finish() as u32)
}
