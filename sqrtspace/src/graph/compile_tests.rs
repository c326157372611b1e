//! Tests of the compile-time graph analysis ([`super`]): the edge table, topological order,
//! the cycle message and its cut at a character boundary.

use super::*;

#[test]
fn a_long_message_is_cut_at_a_character_boundary() {
    // "pipeline `Pq` lists stage `" is 27 bytes, then 2-byte characters: the 256-byte
    // buffer ends inside one.
    let name: &'static str = "é".repeat(200).leak();
    let stage = StageMeta {
        name,
        id: name,
        cost: 1,
        stateful: false,
        inputs: &[],
    };
    let err = std::panic::catch_unwind(|| check_graph::<2>(&[stage, stage], &[], "Pq"))
        .expect_err("a duplicate stage is rejected");
    let text = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_default();
    assert!(text.starts_with("pipeline `Pq` lists stage `éé"), "{text}");
    assert!(text.len() <= 256 && text.len() >= 254, "{}", text.len());
}

const fn input(id: &'static str) -> crate::stage::InputMeta {
    crate::stage::InputMeta {
        name: id,
        stage: Some(id),
        offset: 0,
    }
}

const fn meta(id: &'static str, inputs: &'static [crate::stage::InputMeta]) -> StageMeta {
    StageMeta {
        name: id,
        id,
        cost: 1,
        stateful: false,
        inputs,
    }
}

#[test]
fn resolve_maps_every_edge_to_its_stage_or_none() {
    const FRAMES: crate::stage::InputMeta = crate::stage::InputMeta {
        name: "input",
        stage: None,
        offset: 0,
    };
    const STAGES: [StageMeta; 3] = [
        meta("m::a", &[FRAMES]),
        meta("m::b", &[input("m::a"), input("other::a"), input("m::b")]),
        meta("m::c", &[input("m::b"), input("m::a")]),
    ];
    const E: usize = edge_count(&STAGES);
    const DEPS: [usize; E] = resolve::<3, E>(&STAGES);
    assert_eq!(DEPS, [NONE, 0, NONE, 1, 1, 0]);
}

#[test]
fn topo_puts_inputs_first_and_breaks_ties_in_declaration_order() {
    // d <- c <- a, b independent: declaration order among the ready ones.
    const STAGES: [StageMeta; 4] = [
        meta("d", &[input("c")]),
        meta("b", &[]),
        meta("c", &[input("a")]),
        meta("a", &[]),
    ];
    const E: usize = edge_count(&STAGES);
    const DEPS: [usize; E] = resolve::<4, E>(&STAGES);
    check_graph::<4>(&STAGES, &DEPS, "P");
    assert_eq!(topo::<4, E>(&STAGES, &DEPS), [1, 3, 2, 0]);
}

#[test]
fn a_cycle_is_spelled_out_from_the_table() {
    static STAGES: [StageMeta; 3] = [
        meta("a", &[input("c")]),
        meta("b", &[input("a")]),
        meta("c", &[input("b")]),
    ];
    let deps = resolve::<3, 3>(&STAGES);
    let err = std::panic::catch_unwind(|| check_graph::<3>(&STAGES, &deps, "Loop"))
        .expect_err("a cycle is rejected");
    let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.starts_with("pipeline `Loop` has a cycle: `"), "{text}");
    assert!(
        text.contains("a -> b -> c -> a")
            || text.contains("c -> a -> b -> c")
            || text.contains("b -> c -> a -> b"),
        "{text}"
    );
}
