//! Tidy checks, run by `cargo test`: the codebase rules people would otherwise
//! have to remember — the layer table of docs/ARCHITECTURE.md, a `//!` purpose
//! line on every module, no `mod.rs`, no trailing whitespace.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What a crate may depend on, from one row of the layer table.
#[derive(Debug, Default, PartialEq)]
struct Rule {
    /// Crates named in the row.
    allowed: BTreeSet<String>,
    /// The row says "any crate from crates.io": only workspace crates are limited.
    any_external: bool,
}

/// Reads the layer table: rows of `| `crate` | job | may depend on |` after a
/// header naming "may depend on". Every backticked name in the last cell is allowed.
fn layer_rules(architecture: &str) -> BTreeMap<String, Rule> {
    let mut rules = BTreeMap::new();
    let mut in_table = false;
    for line in architecture.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if line.contains("may depend on") {
            in_table = true;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let (Some(first), Some(last)) = (cells.first(), cells.last()) else {
            continue;
        };
        if !in_table || !first.starts_with('`') {
            continue;
        }
        let rule = Rule {
            allowed: backticked(last),
            any_external: last.contains("any crate from crates.io"),
        };
        rules.insert(first.trim_matches('`').to_string(), rule);
    }
    rules
}

fn backticked(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The dependencies of a manifest that ship with the crate (not dev-dependencies).
fn shipped_dependencies(manifest: &toml::Table) -> BTreeSet<String> {
    let mut tables: Vec<&toml::Table> = Vec::new();
    for key in ["dependencies", "build-dependencies"] {
        tables.extend(manifest.get(key).and_then(toml::Value::as_table));
    }
    let targets = manifest.get("target").and_then(toml::Value::as_table);
    for target in targets.into_iter().flat_map(|t| t.values()) {
        for key in ["dependencies", "build-dependencies"] {
            tables.extend(target.get(key).and_then(toml::Value::as_table));
        }
    }
    tables
        .into_iter()
        .flat_map(|t| t.iter())
        .map(|(name, spec)| {
            let renamed = spec.get("package").and_then(toml::Value::as_str);
            renamed.unwrap_or(name).to_string()
        })
        .collect()
}

/// Breaches of the layer table by the crate `name` with `manifest`.
fn dependency_violations(
    name: &str,
    manifest: &toml::Table,
    rules: &BTreeMap<String, Rule>,
) -> Vec<String> {
    let Some(rule) = rules.get(name) else {
        return vec![format!(
            "crate {name} has no row in the layer table of docs/ARCHITECTURE.md; add one"
        )];
    };
    shipped_dependencies(manifest)
        .into_iter()
        .filter(|dep| {
            let internal = dep.starts_with("lifecycle");
            !rule.allowed.contains(dep) && (internal || !rule.any_external)
        })
        .map(|dep| {
            format!("crate {name} depends on {dep}, which the layer table of docs/ARCHITECTURE.md does not allow")
        })
        .collect()
}

/// Breaches of the per-file rules by one source file.
fn file_violations(path: &Path, contents: &str) -> Vec<String> {
    let mut found = Vec::new();
    let shown = path.display();
    if path.file_name().is_some_and(|n| n == "mod.rs") {
        found.push(format!(
            "{shown}: no mod.rs; name the file after its module"
        ));
    }
    let first = contents.lines().find(|l| !l.trim().is_empty());
    if !first.is_some_and(|l| l.starts_with("//!")) {
        found.push(format!(
            "{shown}: the first line must be a `//!` comment saying why the module exists"
        ));
    }
    for (number, line) in contents.lines().enumerate() {
        if line.ends_with([' ', '\t']) {
            found.push(format!("{shown}:{}: trailing whitespace", number + 1));
        }
    }
    found
}

/// Every file under `dir` whose name ends with one of `endings`, skipping
/// build output and test fixtures.
fn files(dir: &Path, endings: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | "fixtures" | ".git") {
                found.extend(files(&path, endings));
            }
        } else if endings.iter().any(|e| name.ends_with(e)) {
            found.push(path);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        crate::workspace_root()
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn crates_depend_only_on_what_the_layer_table_allows() {
        let rules = layer_rules(&read(&root().join("docs/ARCHITECTURE.md")));
        assert!(rules.len() >= 9, "layer table not found: {rules:?}");
        let mut violations = Vec::new();
        let mut checked = 0;
        for manifest_path in files(&root().join("crates"), &["Cargo.toml"]) {
            let manifest: toml::Table = read(&manifest_path).parse().unwrap();
            let name = manifest["package"]["name"].as_str().unwrap().to_string();
            violations.extend(dependency_violations(&name, &manifest, &rules));
            checked += 1;
        }
        assert!(checked >= 2);
        assert!(violations.is_empty(), "{}", violations.join("\n"));
    }

    #[test]
    fn every_source_file_is_tidy() {
        let mut violations = Vec::new();
        let mut checked = 0;
        for dir in ["crates", "xtask", "tests"] {
            for path in files(&root().join(dir), &[".rs"]) {
                violations.extend(file_violations(&path, &read(&path)));
                checked += 1;
            }
        }
        for path in files(&root(), &[".md", ".toml"]) {
            violations.extend(
                file_violations(&path, &read(&path))
                    .into_iter()
                    .filter(|v| v.contains("trailing whitespace")),
            );
        }
        assert!(checked > 10);
        assert!(violations.is_empty(), "{}", violations.join("\n"));
    }

    const TABLE: &str = "
| crate | its one job | may depend on |
|---|---|---|
| `lifecycle-domain` | types | `serde`, `sha2` |
| `lifecycle-registry` | service | `lifecycle-domain`, `lifecycle-store` and any crate from crates.io |

| other | table |
|---|---|
| `ignored` | `x` |
";

    fn manifest(deps: &str) -> toml::Table {
        format!("[package]\nname = \"x\"\n{deps}").parse().unwrap()
    }

    #[test]
    fn the_layer_table_is_read_from_markdown() {
        let rules = layer_rules(TABLE);
        assert_eq!(rules.len(), 2);
        let domain = &rules["lifecycle-domain"];
        assert_eq!(
            domain.allowed,
            BTreeSet::from(["serde".into(), "sha2".into()])
        );
        assert!(!domain.any_external);
        assert!(rules["lifecycle-registry"].any_external);
    }

    #[test]
    fn forbidden_edges_are_reported() {
        let rules = layer_rules(TABLE);
        let domain_on_tokio = manifest("[dependencies]\nserde = \"1\"\ntokio = \"1\"");
        let found = dependency_violations("lifecycle-domain", &domain_on_tokio, &rules);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("depends on tokio"), "{found:?}");

        let engine_on_adapter =
            manifest("[dependencies]\nlifecycle-store-sled = { path = \"x\" }\nclap = \"4\"");
        let found = dependency_violations("lifecycle-registry", &engine_on_adapter, &rules);
        assert_eq!(
            found.len(),
            1,
            "clap is free, the adapter is not: {found:?}"
        );
        assert!(found[0].contains("lifecycle-store-sled"));

        let renamed = manifest(
            "[target.'cfg(unix)'.dependencies]\nrt = { package = \"tokio\", version = \"1\" }",
        );
        assert_eq!(
            dependency_violations("lifecycle-domain", &renamed, &rules).len(),
            1
        );

        let dev_only = manifest("[dev-dependencies]\ntokio = \"1\"");
        assert!(dependency_violations("lifecycle-domain", &dev_only, &rules).is_empty());

        let unknown = dependency_violations("lifecycle-new", &manifest(""), &rules);
        assert!(unknown[0].contains("no row"), "{unknown:?}");
    }

    #[test]
    fn file_rules_catch_mod_rs_missing_docs_and_trailing_whitespace() {
        let good = "//! Why this exists.\nfn f() {}\n";
        assert!(file_violations(Path::new("a.rs"), good).is_empty());
        assert_eq!(file_violations(Path::new("x/mod.rs"), good).len(), 1);
        let undocumented = file_violations(Path::new("a.rs"), "// plain comment\nfn f() {}\n");
        assert!(undocumented[0].contains("//!"), "{undocumented:?}");
        let trailing = file_violations(Path::new("a.rs"), "//! Doc.\nfn f() {} \n");
        assert_eq!(trailing, ["a.rs:2: trailing whitespace"]);
    }
}
