//! `gitsign verify --cache DIR`: verdicts of earlier history runs, so a CI job on a growing
//! history verifies only what is new. One file per key (a digest of the policy, the trust
//! root, the options and this binary's version): any change to them starts a new file and
//! removes the old ones. Lines are JSON records with `ref` and `id`; a torn last line (a run
//! killed while writing) is ignored.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The verdicts already recorded (read-only, so workers can share it).
pub struct Known {
    known: HashMap<(Option<String>, String), serde_json::Value>,
}

/// Where new verdicts are appended.
pub struct Writer {
    path: PathBuf,
    out: BufWriter<File>,
}

const PREFIX: &str = "verdicts-";

/// Opens the verdicts recorded under `key` in `dir`, removing those of other keys.
pub fn open(dir: &Path, key: &str) -> Result<(Known, Writer), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the cache directory {}: {e}", dir.display()))?;
    let name = format!("{PREFIX}{key}.jsonl");
    let path = dir.join(&name);
    // Stale verdicts (another policy, trust root or version) are never read again.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(PREFIX) && n.ends_with(".jsonl") && n != name {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let mut known = HashMap::new();
    if let Ok(f) = File::open(&path) {
        for line in BufReader::new(f).lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let (Some(id), r) = (v["id"].as_str(), v["ref"].as_str()) else {
                continue;
            };
            known.insert((r.map(str::to_string), id.to_string()), v);
        }
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot write the cache {}: {e}", path.display()))?;
    Ok((
        Known { known },
        Writer {
            path,
            out: BufWriter::new(file),
        },
    ))
}

impl Known {
    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    pub fn get(&self, ref_name: Option<&str>, id: &str) -> Option<&serde_json::Value> {
        self.known
            .get(&(ref_name.map(str::to_string), id.to_string()))
    }
}

impl Writer {
    /// Records a verdict (written at the latest by [`Verdicts::flush`]).
    pub fn put(&mut self, record: &serde_json::Value) -> Result<(), String> {
        writeln!(self.out, "{record}")
            .map_err(|e| format!("cannot write the cache {}: {e}", self.path.display()))
    }

    pub fn flush(&mut self) -> Result<(), String> {
        self.out
            .flush()
            .map_err(|e| format!("cannot write the cache {}: {e}", self.path.display()))
    }
}
