//! RFC 9162 (RFC 6962) Merkle tree hashing and inclusion proofs, SHA-256.

use sha2::{Digest, Sha256};

use super::TlogError;

/// SHA-256(0x00 || body): the hash of a log leaf.
pub fn leaf_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(body);
    h.finalize().into()
}

/// SHA-256(0x01 || left || right): the hash of an interior node.
pub fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The number of hashes an inclusion proof for `index` in a tree of `size` leaves has:
/// the levels below the point where the paths of `index` and the last leaf split, plus one per
/// complete subtree on the left border above it.
fn proof_len(index: u64, size: u64) -> usize {
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    inner + border
}

/// Verifies that `leaf` is at `index` in the tree of `tree_size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    tree_size: u64,
    leaf: &[u8; 32],
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), TlogError> {
    if index >= tree_size {
        return Err(TlogError::InclusionProofInvalid {
            what: "index is not below the tree size",
        });
    }
    if root.len() != 32 {
        return Err(TlogError::InclusionProofInvalid {
            what: "root hash is not 32 bytes",
        });
    }
    let expected = proof_len(index, tree_size);
    if proof.len() != expected {
        return Err(TlogError::InclusionProofLength {
            expected,
            found: proof.len(),
        });
    }
    if proof.iter().any(|p| p.len() != 32) {
        return Err(TlogError::InclusionProofInvalid {
            what: "proof hash is not 32 bytes",
        });
    }

    let mut f_n = index;
    let mut s_n = tree_size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            // Unreachable after the length check; kept so the loop is right on its own.
            return Err(TlogError::InclusionProofLength {
                expected,
                found: proof.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(TlogError::InclusionProofLength {
            expected,
            found: proof.len(),
        });
    }
    if r.as_slice() != root {
        return Err(TlogError::RootMismatch {
            expected: root.to_vec(),
            computed: r.to_vec(),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// MTH from RFC 9162 §2.1.1, computed recursively and independently of the verifier.
    pub(crate) fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaves[0],
            n => {
                let k = split(n);
                node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
            }
        }
    }

    /// The largest power of two smaller than `n` (n >= 2).
    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// PATH(m, D[n]) from RFC 9162 §2.1.3.1.
    pub(crate) fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<Vec<u8>> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split(n);
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(root(&leaves[k..]).to_vec());
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(root(&leaves[..k]).to_vec());
            p
        }
    }

    fn leaves(n: usize) -> Vec<[u8; 32]> {
        (0..n)
            .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn every_index_of_trees_up_to_twenty_leaves_verifies() {
        for n in 1..=20usize {
            let l = leaves(n);
            let r = root(&l);
            for m in 0..n {
                let p = path(m, &l);
                assert_eq!(p.len(), proof_len(m as u64, n as u64), "n={n} m={m}");
                verify_inclusion(m as u64, n as u64, &l[m], &p, &r)
                    .unwrap_or_else(|e| panic!("n={n} m={m}: {e}"));
            }
        }
    }

    #[test]
    fn wrong_leaf_index_size_root_or_proof_hash_is_rejected() {
        for n in 1..=20usize {
            let l = leaves(n);
            let r = root(&l);
            for m in 0..n {
                let p = path(m, &l);
                let (m64, n64) = (m as u64, n as u64);
                let other = leaf_hash(b"not in the tree");
                assert!(verify_inclusion(m64, n64, &other, &p, &r).is_err());
                if n > 1 {
                    let wrong = (m + 1) % n;
                    assert!(verify_inclusion(wrong as u64, n64, &l[m], &p, &r).is_err());
                    assert!(verify_inclusion(m64, n64, &l[wrong], &p, &r).is_err());
                }
                // (A proof can also be valid for a larger size with the same shape, e.g. index
                // 0 of 3 and of 4: the checkpoint, not the proof, authenticates the size.)
                if proof_len(m64, n64 + 1) != p.len() {
                    assert!(verify_inclusion(m64, n64 + 1, &l[m], &p, &r).is_err());
                }
                let mut bad_root = r;
                bad_root[7] ^= 1;
                assert!(verify_inclusion(m64, n64, &l[m], &p, &bad_root).is_err());
                for i in 0..p.len() {
                    let mut q = p.clone();
                    q[i][31] ^= 0x80;
                    assert!(verify_inclusion(m64, n64, &l[m], &q, &r).is_err());
                }
                let mut longer = p.clone();
                longer.push(vec![0; 32]);
                assert!(matches!(
                    verify_inclusion(m64, n64, &l[m], &longer, &r),
                    Err(TlogError::InclusionProofLength { .. })
                ));
                if !p.is_empty() {
                    let shorter = &p[..p.len() - 1];
                    assert!(matches!(
                        verify_inclusion(m64, n64, &l[m], shorter, &r),
                        Err(TlogError::InclusionProofLength { .. })
                    ));
                }
            }
        }
    }

    #[test]
    fn index_at_or_beyond_tree_size_is_rejected() {
        let l = leaves(4);
        let r = root(&l);
        let p = path(3, &l);
        for (idx, size) in [(4, 4), (5, 4), (0, 0), (u64::MAX, u64::MAX)] {
            assert!(matches!(
                verify_inclusion(idx, size, &l[3], &p, &r),
                Err(TlogError::InclusionProofInvalid { .. })
            ));
        }
    }

    #[test]
    fn short_hashes_are_rejected() {
        let l = leaves(4);
        let r = root(&l);
        let mut p = path(1, &l);
        p[0].pop();
        assert!(matches!(
            verify_inclusion(1, 4, &l[1], &p, &r),
            Err(TlogError::InclusionProofInvalid { .. })
        ));
        let p = path(1, &l);
        assert!(matches!(
            verify_inclusion(1, 4, &l[1], &p, &r[..31]),
            Err(TlogError::InclusionProofInvalid { .. })
        ));
    }

    #[test]
    fn huge_tree_sizes_do_not_overflow() {
        let leaf = leaf_hash(b"x");
        let proof = vec![vec![0u8; 32]; proof_len(u64::MAX - 1, u64::MAX)];
        assert!(verify_inclusion(u64::MAX - 1, u64::MAX, &leaf, &proof, &[0; 32]).is_err());
        assert_eq!(proof_len(0, 1), 0);
        assert_eq!(proof_len(u64::MAX - 1, u64::MAX), 63);
        assert_eq!(proof_len(0, u64::MAX), 64);
    }
}
