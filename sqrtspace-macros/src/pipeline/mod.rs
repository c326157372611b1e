//! `pipeline!`: parse -> check -> analyze -> expand.

mod analyze;
mod check;
mod expand;
mod parse;

use proc_macro2::TokenStream;

pub fn pipeline(input: TokenStream) -> TokenStream {
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
    expand::expand(&decl, &model)
}
