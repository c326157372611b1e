//! Syntax of `pipeline!`:
//!
//! ```text
//! pipeline! {
//!     /// docs
//!     pub struct Name {
//!         sample: f32,            // optional, default f32
//!         params: MyParams,       // optional, default ()
//!         stages: [a, b, m::c],
//!         output: c,              // optional, default the last stage;
//!                                 // `output: [b, c]` emits the tuple of both outputs
//!     }
//! }
//! ```

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, bracketed, Token};

pub const KEYS: [&str; 4] = ["sample", "params", "stages", "output"];

pub struct PipelineDecl {
    pub attrs: Vec<syn::Attribute>,
    pub vis: syn::Visibility,
    pub name: syn::Ident,
    pub sample: Option<syn::Type>,
    pub params: Option<syn::Type>,
    pub stages: Vec<syn::Path>,
    /// The `stages` key was given (possibly empty).
    pub stages_given: bool,
    pub stages_span: Span,
    /// The output stages as written: one path, or a bracketed list.
    pub output: Option<Output>,
    /// Keys that are not one of [`KEYS`], reported by `check`.
    pub unknown: Vec<syn::Ident>,
    pub duplicate_keys: Vec<syn::Ident>,
    /// A syntax error in the body. The header (attributes, visibility, name) parsed, so the
    /// expansion still declares the type, and uses of it report nothing else.
    pub body_error: Option<syn::Error>,
}

/// The `output` key's value.
pub enum Output {
    /// `output: s`: push and stream calls emit `s`'s output.
    One(syn::Path),
    /// `output: [a, b]`: they emit the tuple of `a`'s and `b`'s outputs.
    List { paths: Vec<syn::Path>, span: Span },
}

impl Output {
    pub fn paths(&self) -> &[syn::Path] {
        match self {
            Output::One(p) => std::slice::from_ref(p),
            Output::List { paths, .. } => paths,
        }
    }
}

impl Parse for PipelineDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis: syn::Visibility = input.parse()?;
        input.parse::<Token![struct]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `struct Name { stages: [...] }` (optionally `pub`)",
            )
        })?;
        let name: syn::Ident = input.parse()?;
        let body;
        braced!(body in input);
        let mut decl = PipelineDecl {
            attrs,
            vis,
            name,
            sample: None,
            params: None,
            stages: Vec::new(),
            stages_given: false,
            stages_span: Span::call_site(),
            output: None,
            unknown: Vec::new(),
            duplicate_keys: Vec::new(),
            body_error: None,
        };
        if let Err(e) = parse_body(&body, &mut decl) {
            decl.body_error = Some(e);
            // Skip the rest of the body: syn reports unconsumed tokens otherwise.
            body.step(|cursor| {
                let mut rest = *cursor;
                while let Some((_, next)) = rest.token_tree() {
                    rest = next;
                }
                Ok(((), rest))
            })?;
        }
        Ok(decl)
    }
}

fn parse_body(body: ParseStream, decl: &mut PipelineDecl) -> syn::Result<()> {
    let mut seen: Vec<String> = Vec::new();
    while !body.is_empty() {
        let key: syn::Ident = body.parse()?;
        body.parse::<Token![:]>()?;
        let k = key.to_string();
        if seen.contains(&k) {
            decl.duplicate_keys.push(key.clone());
        }
        seen.push(k.clone());
        match k.as_str() {
            "sample" => decl.sample = Some(body.parse()?),
            "params" => decl.params = Some(body.parse()?),
            "output" if body.peek(syn::token::Bracket) => {
                let list;
                let b = bracketed!(list in body);
                decl.output = Some(Output::List {
                    paths: Punctuated::<syn::Path, Token![,]>::parse_terminated(&list)?
                        .into_iter()
                        .collect(),
                    span: b.span.join(),
                });
            }
            "output" => decl.output = Some(Output::One(body.parse()?)),
            "stages" => {
                if !body.peek(syn::token::Bracket) {
                    return Err(syn::Error::new(
                        body.span(),
                        "malformed `stages`: expected square brackets\n\nhelp: `stages` is a bracketed list of stage paths, e.g. `stages: [spectrum, flux, smooth]`",
                    ));
                }
                let list;
                let b = bracketed!(list in body);
                decl.stages_given = true;
                decl.stages_span = b.span.join();
                decl.stages = Punctuated::<syn::Path, Token![,]>::parse_terminated(&list)?
                    .into_iter()
                    .collect();
            }
            _ => {
                // Skip the value up to the next comma, so the unknown key is reported alone.
                while !body.is_empty() && !body.peek(Token![,]) {
                    body.parse::<proc_macro2::TokenTree>()?;
                }
                decl.unknown.push(key);
            }
        }
        if !body.is_empty() {
            body.parse::<Token![,]>()?;
        }
    }
    Ok(())
}
