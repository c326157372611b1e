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
    /// No `output:` key and several stages: the output is the stage no other stage reads,
    /// chosen by a constant of the pipeline type (`outputs` is then a placeholder).
    pub sink_default: bool,
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
            // The unique sink, found at compile time from the stages' metadata (see
            // `expand::sink`); a lone stage is its own sink.
            (vec![decl.stages.len() - 1], false)
        }
    };
    Model {
        sink_default: decl.output.is_none() && decl.stages.len() > 1,
        outputs,
        output_list,
        sample: decl
            .sample
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(f32)),
        params: decl.params.clone().unwrap_or_else(|| syn::parse_quote!(())),
    }
}
