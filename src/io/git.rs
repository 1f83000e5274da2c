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

/// Where a history walk starts: a commit (or an annotated tag, verified as well) and the ref
/// it was named by, which per-ref policy rules match.
#[derive(Debug, Clone)]
pub struct Start {
    pub label: Option<String>,
    pub commit: git2::Oid,
    pub tag: Option<git2::Oid>,
}

/// What a history verification covers, resolved from revision arguments as `git rev-list`
/// reads them: `A..B`, `^A`, plain revisions, `--all` (HEAD and every ref), `--tags`.
pub struct Scope {
    pub starts: Vec<Start>,
    pub hidden: Vec<git2::Oid>,
}

/// One commit a walk produced.
pub struct Walked {
    pub id: git2::Oid,
    pub raw: Vec<u8>,
    pub parents: Vec<git2::Oid>,
}

/// Keeps libgit2's memory small for a walk over a whole history: no object cache (each
/// object is read once), and pack windows of 2 MiB with at most 8 MiB mapped. By default
/// libgit2 maps packs in 1 GiB windows, so reading every commit of a 400 MB history left
/// 176 MB of its pages resident.
#[allow(unsafe_code)]
pub fn limit_memory() {
    git2::opts::enable_caching(false);
    // SAFETY: these set plain libgit2 globals, read when pack windows are mapped; they are
    // unsafe only because the writes are not synchronised with other threads using
    // libgit2. History verification calls this first, before it opens the repository and
    // before any other thread exists.
    unsafe {
        let _ = git2::opts::set_mwindow_size(2 << 20);
        let _ = git2::opts::set_mwindow_mapped_limit(8 << 20);
    }
}

impl Repo {
    /// Resolves revision arguments into walk starts and hidden commits.
    pub fn scope(&self, revs: &[String], all: bool, tags: bool) -> Result<Scope, String> {
        let mut scope = Scope {
            starts: vec![],
            hidden: vec![],
        };
        for rev in revs {
            if let Some(hidden) = rev.strip_prefix('^') {
                scope.hidden.push(self.peel_commit(hidden)?);
            } else if rev.contains("...") {
                return Err(format!(
                    "{rev:?}: symmetric differences (A...B) are not supported; give A..B and B..A"
                ));
            } else if let Some((from, to)) = rev.split_once("..") {
                let from = if from.is_empty() { "HEAD" } else { from };
                let to = if to.is_empty() { "HEAD" } else { to };
                scope.hidden.push(self.peel_commit(from)?);
                scope.starts.push(self.start(to)?);
            } else {
                scope.starts.push(self.start(rev)?);
            }
        }
        if all || tags {
            let mut refs: Vec<(u8, String)> = Vec::new();
            for r in self.repo.references().map_err(msg)? {
                let r = r.map_err(msg)?;
                let Ok(name) = r.name() else { continue };
                let rank = if name.starts_with("refs/heads/") {
                    1
                } else if name.starts_with("refs/remotes/") {
                    2
                } else if name.starts_with("refs/tags/") {
                    3
                } else {
                    4
                };
                if (all && name != "refs/stash") || rank == 3 {
                    refs.push((rank, name.to_string()));
                }
            }
            refs.sort();
            if all && self.repo.head().is_ok() {
                scope.starts.push(self.start("HEAD")?);
            }
            for (_, name) in refs {
                // A ref to a tree or blob has no history to verify.
                if let Ok(s) = self.start(&name) {
                    scope.starts.push(s);
                }
            }
        }
        if scope.starts.is_empty() && revs.iter().all(|r| r.starts_with('^')) {
            scope.starts.push(self.start("HEAD")?);
        }
        Ok(scope)
    }

    fn peel_commit(&self, rev: &str) -> Result<git2::Oid, String> {
        let obj = self
            .repo
            .revparse_single(rev)
            .map_err(|e| format!("unknown revision {rev:?}: {}", msg(e)))?;
        obj.peel(git2::ObjectType::Commit)
            .map(|c| c.id())
            .map_err(|_| format!("{rev:?} does not name a commit"))
    }

    fn start(&self, rev: &str) -> Result<Start, String> {
        // The full ref name a revision names, when it names one (for per-ref rules).
        let label = if rev == "HEAD" {
            self.repo
                .head()
                .ok()
                .and_then(|h| h.name().ok().map(str::to_string))
                .or(Some("HEAD".into()))
        } else {
            REV_PARSE_RULES
                .iter()
                .map(|rule| rule.replace("%s", rev))
                .find(|full| full.starts_with("refs/") && self.repo.find_reference(full).is_ok())
        };
        let obj = self
            .repo
            .revparse_single(rev)
            .map_err(|e| format!("unknown revision {rev:?}: {}", msg(e)))?;
        let tag = (obj.kind() == Some(git2::ObjectType::Tag)).then(|| obj.id());
        Ok(Start {
            label: label.or_else(|| Some(rev.to_string())),
            commit: self.peel_commit(rev)?,
            tag,
        })
    }

    /// The commits of one start, children before parents, without those reachable from
    /// `hidden`. Streams: nothing but libgit2's walk state is held.
    pub fn walk(
        &self,
        start: git2::Oid,
        hidden: &[git2::Oid],
        first_parent: bool,
    ) -> Result<impl Iterator<Item = Result<Walked, String>> + '_, String> {
        let mut walk = self.repo.revwalk().map_err(msg)?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL).map_err(msg)?;
        if first_parent {
            walk.simplify_first_parent().map_err(msg)?;
        }
        walk.push(start).map_err(msg)?;
        for h in hidden {
            walk.hide(*h).map_err(msg)?;
        }
        let odb = self.repo.odb().map_err(msg)?;
        Ok(walk.map(move |oid| {
            let oid = oid.map_err(|e| format!("cannot walk the history: {}", msg(e)))?;
            let raw = odb
                .read(oid)
                .map_err(|e| format!("cannot read commit {oid}: {}", msg(e)))?
                .data()
                .to_vec();
            let parents = crate::core::git::gitobj::commit_parents(&raw)
                .iter()
                .map(|p| git2::Oid::from_str(p))
                .collect::<Result<_, _>>()
                .map_err(|_| format!("commit {oid} names a parent that is not an object id"))?;
            Ok(Walked {
                id: oid,
                raw,
                parents,
            })
        }))
    }

    /// A raw annotated tag object.
    pub fn read_tag_object(&self, oid: git2::Oid) -> Result<RawObject, String> {
        self.read(oid, ObjectKind::Tag)
    }

    /// The full id a commit prefix names.
    pub fn commit_id(&self, prefix: &str) -> Result<String, String> {
        self.peel_commit(prefix).map(|o| o.to_string())
    }

    /// The commits a shallow clone's history stops at (`$GIT_DIR/shallow`).
    pub fn shallow_boundary(&self) -> Vec<git2::Oid> {
        std::fs::read_to_string(self.repo.path().join("shallow"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| git2::Oid::from_str(l.trim()).ok())
            .collect()
    }
}
