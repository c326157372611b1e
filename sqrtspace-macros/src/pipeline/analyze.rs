//! What the expansion needs: the output stages' indices in `stages`, and the sample and
//! params types.

use super::check::stage_index;
use super::parse::{Output, PipelineDecl};

pub struct Model {
    /// Indices into `stages` of the output stages, in the `output` key's order.
    pub outputs: Vec<usize>,
    /// Whether the outputs were given as a list (`output: [a, b]`): push and stream calls then
    /// emit a tuple.
    pub output_list: bool,
    pub sample: syn::Type,
    pub params: syn::Type,
}

pub fn analyze(decl: &PipelineDecl) -> Model {
    let index = |o| stage_index(&decl.stages, o).expect("checked: outputs are stages");
    let (outputs, output_list) = match &decl.output {
        Some(Output::One(o)) => (vec![index(o)], false),
        Some(Output::List { paths, .. }) => (paths.iter().map(index).collect(), true),
        None => {
            assert!(!decl.stages.is_empty(), "checked: at least one stage");
            (vec![decl.stages.len() - 1], false)
        }
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
