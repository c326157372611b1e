//! The runtime's top-level modules import each other without a cycle: each module's `crate::`
//! paths (outside comments) name the modules it depends on, and the graph they form is
//! acyclic. `lib.rs`, `__private.rs` and the application modules (`audio`, `cli`, `bin`) are
//! left out: they sit above everything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn top_level_modules_form_no_import_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sqrtspace/src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let skip = ["lib", "__private", "audio", "cli", "bin"];
    let module = |p: &Path| {
        let rel = p.strip_prefix(&root).unwrap();
        let first = rel.iter().next().unwrap().to_str().unwrap();
        first.trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files.iter().map(|p| module(p)).collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let m = module(f);
        if skip.contains(&m.as_str()) {
            continue;
        }
        for line in std::fs::read_to_string(f).unwrap().lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name != m && modules.contains(&name) && !skip.contains(&name.as_str()) {
                    deps.entry(m.clone()).or_default().insert(name);
                }
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        deps: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(m.to_string(), 1);
        path.push(m.to_string());
        for d in deps.get(m).into_iter().flatten() {
            match state.get(d.as_str()) {
                Some(1) => {
                    let start = path.iter().position(|x| x == d).unwrap();
                    let mut cycle = path[start..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(d, deps, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in deps.keys() {
        if !state.contains_key(m.as_str()) {
            if let Some(c) = visit(m, &deps, &mut state, &mut Vec::new()) {
                panic!("import cycle: {}\n{deps:#?}", c.join(" -> "));
            }
        }
    }
    assert!(deps["exec"].contains("graph") && !deps["graph"].contains("exec"));
}
