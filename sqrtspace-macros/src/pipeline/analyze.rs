//! What the expansion needs: the output stages' paths as listed in `stages`, and the sample
//! and params types.

use super::check::path_key;
use super::parse::{Output, PipelineDecl};

pub struct Model {
    /// The output stages' paths as listed in `stages`, in the `output` key's order.
    pub outputs: Vec<syn::Path>,
    /// Whether the outputs were given as a list (`output: [a, b]`): push and stream calls then
    /// emit a tuple.
    pub output_list: bool,
    pub sample: syn::Type,
    pub params: syn::Type,
}

/// The entry of `stages` that `o` names (by its path, or by its last segment).
fn listed(decl: &PipelineDecl, o: &syn::Path) -> syn::Path {
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

pub fn analyze(decl: &PipelineDecl) -> Model {
    let (outputs, output_list) = match &decl.output {
        Some(Output::One(o)) => (vec![listed(decl, o)], false),
        Some(Output::List { paths, .. }) => (paths.iter().map(|o| listed(decl, o)).collect(), true),
        None => (
            vec![decl
                .stages
                .last()
                .cloned()
                .expect("checked: at least one stage")],
            false,
        ),
    };
    Model {
        outputs,
        output_list,
        sample: decl
            .sample
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(f32)),
        params: decl.params.clone().unwrap_or_else(|| syn::parse_quote!(())),
    }
}
