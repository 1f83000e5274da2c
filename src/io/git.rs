//! Reading objects exactly as git stores them (libgit2's object database: no re-encoding).

use std::path::{Path, PathBuf};

use crate::core::git::gitobj::{HashAlgo, ObjectKind};

pub struct Repo {
    repo: git2::Repository,
}

/// An object as stored: its id and raw body (no `<type> <len>\0` header).
pub struct RawObject {
    pub id: String,
    pub kind: ObjectKind,
    pub raw: Vec<u8>,
}

fn msg(e: git2::Error) -> String {
    e.message().to_string()
}

impl Repo {
    /// The repository git would use here (`GIT_DIR`, else the current directory upwards).
    pub fn discover() -> Result<Repo, String> {
        git2::Repository::open_from_env()
            .map(|repo| Repo { repo })
            .map_err(|e| format!("not in a git repository ({})", msg(e)))
    }

    pub fn open(path: &Path) -> Result<Repo, String> {
        git2::Repository::open(path)
            .map(|repo| Repo { repo })
            .map_err(|e| format!("cannot open git repository {}: {}", path.display(), msg(e)))
    }

    pub fn git_dir(&self) -> PathBuf {
        self.repo.path().to_path_buf()
    }

    pub fn hash_algo(&self) -> HashAlgo {
        // libgit2 is built without SHA-256 support, so read the repository format itself.
        let sha256 = self
            .repo
            .config()
            .and_then(|c| c.get_string("extensions.objectformat"))
            .is_ok_and(|f| f.eq_ignore_ascii_case("sha256"));
        if sha256 {
            HashAlgo::Sha256
        } else {
            HashAlgo::Sha1
        }
    }

    fn read(&self, oid: git2::Oid, kind: ObjectKind) -> Result<RawObject, String> {
        let odb = self.repo.odb().map_err(msg)?;
        let obj = odb
            .read(oid)
            .map_err(|e| format!("cannot read object {oid}: {}", msg(e)))?;
        let expected = match kind {
            ObjectKind::Commit => git2::ObjectType::Commit,
            ObjectKind::Tag => git2::ObjectType::Tag,
        };
        if obj.kind() != expected {
            return Err(format!(
                "object {oid} is a {}, not a {}",
                obj.kind(),
                kind.name()
            ));
        }
        Ok(RawObject {
            id: oid.to_string(),
            kind,
            raw: obj.data().to_vec(),
        })
    }

    /// The commit a revision names (tags are peeled).
    pub fn read_commit(&self, rev: &str) -> Result<RawObject, String> {
        let obj = self
            .repo
            .revparse_single(rev)
            .map_err(|e| format!("unknown revision {rev:?}: {}", msg(e)))?;
        let commit = obj
            .peel(git2::ObjectType::Commit)
            .map_err(|_| format!("{rev:?} does not name a commit"))?;
        self.read(commit.id(), ObjectKind::Commit)
    }

    /// The annotated tag object a name (or revision) refers to, resolved as git's
    /// `verify-tag` does (`ref_rev_parse_rules`: `NAME`, `refs/NAME`, `refs/tags/NAME`,
    /// `refs/heads/NAME`, ...): the first rule that names a ref wins, so both verify the same
    /// object. A name that several rules resolve to different objects is refused: git itself
    /// only warns, and a tag shadowed by `refs/NAME` is a trap.
    pub fn read_tag(&self, name: &str) -> Result<RawObject, String> {
        let mut found: Vec<(String, git2::Oid)> = Vec::new();
        for rule in REV_PARSE_RULES {
            let full = rule.replace("%s", name);
            if let Ok(r) = self.repo.find_reference(&full)
                && let Ok(r) = r.resolve()
                && let Some(oid) = r.target()
            {
                found.push((full, oid));
            }
        }
        let oid = match found.as_slice() {
            [] => self
                .repo
                .revparse_single(name)
                .map_err(|e| format!("unknown tag {name:?}: {}", msg(e)))?
                .id(),
            [(_, oid), rest @ ..] if rest.iter().all(|(_, o)| o == oid) => *oid,
            _ => {
                let refs: Vec<&str> = found.iter().map(|(r, _)| r.as_str()).collect();
                return Err(format!(
                    "tag name {name:?} is ambiguous: {} name different objects (give the full ref name, e.g. {})",
                    refs.join(", "),
                    refs[0]
                ));
            }
        };
        let obj = self
            .repo
            .find_object(oid, None)
            .map_err(|e| format!("cannot read object {oid}: {}", msg(e)))?;
        if obj.kind() != Some(git2::ObjectType::Tag) {
            return Err(format!(
                "{name:?} is not an annotated tag (lightweight tags carry no signature)"
            ));
        }
        self.read(obj.id(), ObjectKind::Tag)
    }
}

/// git's `ref_rev_parse_rules` (refs.c), in its order.
const REV_PARSE_RULES: [&str; 6] = [
    "%s",
    "refs/%s",
    "refs/tags/%s",
    "refs/heads/%s",
    "refs/remotes/%s",
    "refs/remotes/%s/HEAD",
];

/// The git directory git would use here (`GIT_DIR`, else found upwards from the current
/// directory), without opening the repository: libgit2 refuses to open SHA-256 repositories,
/// but their config still applies.
pub fn discover_git_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GIT_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let cwd = std::env::current_dir().ok()?;
    let ceilings = std::env::var_os("GIT_CEILING_DIRECTORIES").unwrap_or_default();
    git2::Repository::discover_path(cwd, std::env::split_paths(&ceilings)).ok()
}
