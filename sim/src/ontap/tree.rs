//! The file tree of a volume (or of a snapshot): files with a size and a content generation,
//! directories, timestamps and inode numbers, keyed by volume-relative path.

use std::collections::BTreeMap;

use time::OffsetDateTime;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File { size: u64, generation: u64 },
    Directory,
}

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    pub inode: u64,
    pub created: OffsetDateTime,
    pub modified: OffsetDateTime,
}

impl Node {
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Directory
    }

    pub fn size(&self) -> u64 {
        match self.kind {
            Kind::File { size, .. } => size,
            Kind::Directory => 4096,
        }
    }
}

/// Entries by normalised path (`a/b/c`, no leading or trailing `/`; the root `""` is implicit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Node>,
    next_inode: u64,
}

/// Normalise a volume-relative path: drop empty and `.` components. `None` when it contains `..`.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The parent directory of a normalised path (`""` for top-level entries).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// The last component of a normalised path.
pub fn base_name(path: &str) -> &str {
    path.rsplit_once('/').map(|(_, n)| n).unwrap_or(path)
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            entries: BTreeMap::new(),
            next_inode: 96,
        }
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.entries.get(path)
    }

    /// Whether `path` is an existing directory (the root always is).
    pub fn is_dir(&self, path: &str) -> bool {
        path.is_empty() || self.get(path).is_some_and(Node::is_dir)
    }

    fn alloc_inode(&mut self) -> u64 {
        self.next_inode += 1;
        self.next_inode
    }

    /// Create a directory and its missing parents.
    pub fn mkdir_all(&mut self, path: &str, now: OffsetDateTime) {
        if path.is_empty() || self.entries.contains_key(path) {
            return;
        }
        self.mkdir_all(parent(path), now);
        let inode = self.alloc_inode();
        self.entries.insert(
            path.to_string(),
            Node {
                kind: Kind::Directory,
                inode,
                created: now,
                modified: now,
            },
        );
    }

    /// Create or replace a file (creating missing parent directories).
    pub fn put_file(&mut self, path: &str, size: u64, generation: u64, now: OffsetDateTime) {
        self.mkdir_all(parent(path), now);
        let inode = self.alloc_inode();
        self.entries.insert(
            path.to_string(),
            Node {
                kind: Kind::File { size, generation },
                inode,
                created: now,
                modified: now,
            },
        );
        self.touch_parent(path, now);
    }

    fn touch_parent(&mut self, path: &str, now: OffsetDateTime) {
        if let Some(dir) = self.entries.get_mut(parent(path)) {
            dir.modified = now;
        }
    }

    /// Bump the content generation of a file; false when it is not a file.
    pub fn write(&mut self, path: &str, now: OffsetDateTime) -> bool {
        match self.entries.get_mut(path) {
            Some(Node {
                kind: Kind::File { generation, .. },
                modified,
                ..
            }) => {
                *generation += 1;
                *modified = now;
                true
            }
            _ => false,
        }
    }

    /// Direct children of a directory, in name order.
    pub fn children<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a String, &'a Node)> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .filter(move |(k, _)| parent(k) == dir)
    }

    /// Every entry strictly below a directory (`""`: the whole tree), in path order.
    pub fn below<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a String, &'a Node)> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
    }

    /// Remove an entry and everything below it.
    pub fn remove_all(&mut self, path: &str, now: OffsetDateTime) {
        let doomed: Vec<String> = self.below(path).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            self.entries.remove(&k);
        }
        self.entries.remove(path);
        self.touch_parent(path, now);
    }

    /// Files (not directories) with their size and generation.
    pub fn files(&self) -> impl Iterator<Item = (&String, u64, u64)> {
        self.entries.iter().filter_map(|(k, n)| match n.kind {
            Kind::File { size, generation } => Some((k, size, generation)),
            Kind::Directory => None,
        })
    }

    /// Sum of the file sizes.
    pub fn used_bytes(&self) -> u64 {
        self.files().map(|(_, size, _)| size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_lists_and_removes() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut t = Tree::new();
        t.put_file("images/100/a.raw", 10, 1, now);
        t.put_file("images/100/b.raw", 20, 1, now);
        t.put_file("images/101/c.raw", 30, 1, now);
        t.mkdir_all("snippets", now);
        let top: Vec<_> = t.children("").map(|(k, _)| k.as_str()).collect();
        assert_eq!(top, ["images", "snippets"]);
        let d: Vec<_> = t.children("images/100").map(|(k, _)| k.as_str()).collect();
        assert_eq!(d, ["images/100/a.raw", "images/100/b.raw"]);
        assert!(t.is_dir("images/101"));
        assert!(t.write("images/100/a.raw", now));
        assert!(!t.write("images/100", now));
        assert_eq!(t.used_bytes(), 60);
        t.remove_all("images/100", now);
        assert!(t.get("images/100/a.raw").is_none());
        assert!(t.get("images/101/c.raw").is_some());
        assert_eq!(normalize("./.snapshot//s/x/"), Some(".snapshot/s/x".into()));
        assert_eq!(normalize("a/../b"), None);
    }
}
