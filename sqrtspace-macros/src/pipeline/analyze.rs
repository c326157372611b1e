//! What the expansion needs: stage indices and the output stage's path.

use super::check::path_key;
use super::parse::PipelineDecl;

pub struct Model {
    /// The output stage's path as listed in `stages`.
    pub output: syn::Path,
    pub sample: syn::Type,
    pub params: syn::Type,
}

pub fn analyze(decl: &PipelineDecl) -> Model {
    let output = match &decl.output {
        Some(o) => {
            let k = path_key(o);
            decl.stages
                .iter()
                .find(|s| path_key(s) == k)
                .or_else(|| {
                    decl.stages
                        .iter()
                        .find(|s| s.segments.last().is_some_and(|l| l.ident == k))
                })
                .cloned()
                .unwrap_or_else(|| o.clone())
        }
        None => decl
            .stages
            .last()
            .cloned()
            .expect("checked: at least one stage"),
    };
    Model {
        output,
        sample: decl
            .sample
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(f32)),
        params: decl.params.clone().unwrap_or_else(|| syn::parse_quote!(())),
    }
}
