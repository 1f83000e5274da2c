//! gitsign-rs: keyless Sigstore signing and verification of Git commits and tags.
//!
//! Layers, dependencies pointing one way: `app` (one function per command) -> `io` (git,
//! config, Rekor, files) -> `core` (pure: bytes and time in, values out). `cli` turns argv
//! into a typed command without I/O. Clippy fails the build if core calls the filesystem,
//! environment, network, processes, terminal or clock (`clippy.toml`, denied in `core`), and
//! the tests below fail if a layer imports one above it.
// One audited exception: io::git::limit_memory sets two libgit2 globals.
#![deny(unsafe_code)]

pub mod app;
pub mod cli;
pub mod core;
pub mod io;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`, sorted.
    fn sources(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(sources(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
        out.sort();
        out
    }

    /// `file:line: text` for each line of code (comments stripped) under `src/{layer}` that
    /// names one of `above`.
    fn upward_imports(layer: &str, above: &[&str]) -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut hits = Vec::new();
        for path in sources(&root.join("src").join(layer)) {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap();
                let names_above = above.iter().any(|m| {
                    code.contains(&format!("crate::{m}"))
                        || code.contains(&format!("super::{m}"))
                        || code.contains(&format!("gitsign::{m}"))
                });
                if names_above {
                    let shown = path.strip_prefix(root).unwrap().display();
                    hits.push(format!("{shown}:{}: {}", n + 1, line.trim()));
                }
            }
        }
        hits
    }

    // Clippy holds what core may call (clippy.toml, denied in core/mod.rs); these hold which
    // way the layers depend: app -> io -> core, and cli apart.
    #[test]
    fn core_imports_nothing_from_io_app_or_cli() {
        let hits = upward_imports("core", &["io", "app", "cli"]);
        assert!(hits.is_empty(), "core must stay pure:\n{}", hits.join("\n"));
    }

    #[test]
    fn io_imports_nothing_from_app_or_cli() {
        let hits = upward_imports("io", &["app", "cli"]);
        assert!(
            hits.is_empty(),
            "io must not depend on app or cli:\n{}",
            hits.join("\n")
        );
    }
}
