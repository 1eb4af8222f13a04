//! Founding acts: the authority acts that register a whole directory at once, and
//! keys derived from a seed for simulations and tests.
//!
//! A [`Founding`] turns a directory (authorities, officials, data sources) and the
//! public keys of its officials and sources into the [`SignedAct`]s that make a
//! [`Registry`] hold exactly them: the first admin's [`Act::Bootstrap`], a second
//! admin, every other authority, every official with its key and roles, and every
//! data source (proposed by the first admin, confirmed by the second). Before it
//! returns them it replays them, so what it gives is a log that replays without a
//! problem.
//!
//! [`derived_key`] and [`Founding::derived`] make every key from a seed: anyone who
//! knows the seed holds every private key, which is what a simulated city and a test
//! need and what a real province must never use.

use std::collections::BTreeMap;
use std::fmt;

use ed25519_dalek::SigningKey;
use mingma_core::{
    AuthorityId, DataSourceId, Directory, Evidence, OfficialId, Recorder, Timestamp,
};
use sha2::{Digest, Sha256};

use crate::act::{key_hex, Act, ActBody, ActProblem, Registry, SignedAct};
use crate::signature::sealed;
use crate::{Grant, Role};

/// A deterministic Ed25519 key: SHA-256 over `domain`, a zero byte, `seed`
/// (big-endian) and `name` is its seed. For simulations and tests only.
pub fn derived_key(domain: &str, seed: u64, name: &str) -> SigningKey {
    let mut hash = Sha256::new();
    hash.update(domain.as_bytes());
    hash.update([0]);
    hash.update(seed.to_be_bytes());
    hash.update(name.as_bytes());
    SigningKey::from_bytes(&hash.finalize().into())
}

/// The private keys of officials and data sources, for whoever signs in their name
/// (a simulation, a test).
#[derive(Clone, Default)]
pub struct Signers {
    officials: BTreeMap<OfficialId, SigningKey>,
    sources: BTreeMap<DataSourceId, SigningKey>,
}

impl fmt::Debug for Signers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the keys are secrets.
        f.debug_struct("Signers")
            .field("officials", &self.officials.keys().collect::<Vec<_>>())
            .field("sources", &self.sources.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Signers {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the key of an official.
    pub fn add_official(&mut self, official: OfficialId, key: SigningKey) {
        self.officials.insert(official, key);
    }

    /// Sets the key of a data source.
    pub fn add_source(&mut self, source: DataSourceId, key: SigningKey) {
        self.sources.insert(source, key);
    }

    /// The key of an official.
    pub fn official(&self, official: &OfficialId) -> Option<&SigningKey> {
        self.officials.get(official)
    }

    /// The key of a data source.
    pub fn source(&self, source: &DataSourceId) -> Option<&SigningKey> {
        self.sources.get(source)
    }

    /// The key a record by `recorder` is sealed with (`None` for holders and
    /// proxies, who need none, and for recorders without a key here).
    pub fn key_of(&self, recorder: &Recorder) -> Option<&SigningKey> {
        match recorder {
            Recorder::Official(id) => self.official(id),
            Recorder::Source { id, .. } => self.source(id),
            Recorder::Holder | Recorder::Proxy(_) => None,
        }
    }

    /// `record` sealed by its recorder's key; unchanged if there is none here.
    pub fn seal(&self, record: Evidence) -> Evidence {
        match self.key_of(&record.recorded_by) {
            Some(key) => sealed(record, key),
            None => record,
        }
    }
}

/// One of the two admins a [`Founding`] starts with.
#[derive(Clone)]
pub struct FoundingAdmin {
    /// Their official id (not one of the directory's officials).
    pub official: OfficialId,
    /// Display name.
    pub name: String,
    /// Their private key, which seals their acts.
    pub key: SigningKey,
}

impl fmt::Debug for FoundingAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoundingAdmin")
            .field("official", &self.official)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why founding acts could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoundingError {
    /// The admins' authority is not in the directory.
    #[error("the admins' authority {0} is not in the directory")]
    NoAdminAuthority(AuthorityId),
    /// An official or data source of the directory has no key in the signers.
    #[error("{0} has no key")]
    NoKey(String),
    /// The acts, replayed, do not all apply (e.g. an authority outside the admins'
    /// jurisdiction).
    #[error("the founding acts do not replay cleanly: {}", .0.iter().map(|(leaf, p)| format!("leaf {leaf}: {p}")).collect::<Vec<_>>().join("; "))]
    Problems(Vec<(u64, ActProblem)>),
}

/// The acts that register a directory's authorities, officials and data sources.
#[derive(Debug, Clone)]
pub struct Founding {
    /// What to register (venues are not registered by acts and are ignored).
    pub directory: Directory,
    /// The authority the two admins act for; its jurisdiction is where they are
    /// admins, and must contain every other authority's.
    pub admin_authority: AuthorityId,
    /// The first admin (bootstrap, proposals) and the second (confirmations).
    pub admins: [FoundingAdmin; 2],
    /// The keys of every official and data source in the directory.
    pub signers: Signers,
    /// Roles of officials; an official not named here is a health official in
    /// their authority's jurisdiction.
    pub grants: BTreeMap<OfficialId, Vec<Grant>>,
    /// When the first act is made; each later act one second after the one before.
    /// Keys count from the act that registers them, so this must precede every
    /// record they seal.
    pub at: Timestamp,
}

impl Founding {
    /// A founding where every official and data source of `directory`, and two admins
    /// `admin-<authority>-1` and `-2` of `admin_authority`, have keys derived from
    /// `domain`, `seed` and their id ([`derived_key`]). Officials are health officials
    /// in their authority's jurisdiction (change [`Founding::grants`] to differ).
    pub fn derived(
        directory: &Directory,
        admin_authority: &AuthorityId,
        domain: &str,
        seed: u64,
        at: Timestamp,
    ) -> Founding {
        let mut signers = Signers::new();
        for id in directory.officials.keys() {
            signers.add_official(
                id.clone(),
                derived_key(domain, seed, &format!("official:{id}")),
            );
        }
        for id in directory.sources.keys() {
            signers.add_source(
                id.clone(),
                derived_key(domain, seed, &format!("source:{id}")),
            );
        }
        let admin = |n: u32| {
            let text = format!("admin-{admin_authority}-{n}");
            FoundingAdmin {
                // An authority id is at most 64 characters of the same alphabet as
                // an official id; a longer name falls back to a short one.
                official: OfficialId::parse(&text)
                    .or_else(|_| OfficialId::parse(&format!("admin-{n}")))
                    .unwrap_or_else(|e| unreachable!("a valid constant id: {e}")),
                name: format!("admin {n}"),
                key: derived_key(domain, seed, &format!("admin:{text}")),
            }
        };
        Founding {
            directory: Directory {
                authorities: directory.authorities.clone(),
                officials: directory.officials.clone(),
                sources: directory.sources.clone(),
                venues: BTreeMap::new(),
            },
            admin_authority: admin_authority.clone(),
            admins: [admin(1), admin(2)],
            signers,
            grants: BTreeMap::new(),
            at,
        }
    }

    /// `record` sealed by its recorder's key, if the founding has one.
    pub fn seal(&self, record: Evidence) -> Evidence {
        self.signers.seal(record)
    }

    /// The acts in the order they must be appended, the first at leaf `first_leaf`
    /// and each next one at the next leaf (a confirmation names its proposal's
    /// leaf). They are replayed before they are returned: an error says what would
    /// not apply.
    pub fn acts(&self, first_leaf: u64) -> Result<Vec<SignedAct>, FoundingError> {
        let directory = &self.directory;
        let home = directory
            .authorities
            .get(&self.admin_authority)
            .ok_or_else(|| FoundingError::NoAdminAuthority(self.admin_authority.clone()))?;
        let [first, second] = &self.admins;
        let mut acts: Vec<SignedAct> = Vec::new();
        let mut push = |by: &FoundingAdmin, act: Act| {
            let at = self.at.plus_seconds(acts.len() as i64);
            acts.push(SignedAct::sign(
                ActBody {
                    by: by.official.clone(),
                    at,
                    act,
                },
                &by.key,
            ));
            first_leaf.saturating_add(acts.len() as u64 - 1)
        };
        push(
            first,
            Act::Bootstrap {
                authority: home.id.clone(),
                authority_name: home.name.clone(),
                jurisdiction: home.jurisdiction,
                official: first.official.clone(),
                name: first.name.clone(),
                key: key_hex(&first.key.verifying_key()),
            },
        );
        push(
            first,
            Act::AddOfficial {
                official: second.official.clone(),
                name: second.name.clone(),
                authority: home.id.clone(),
            },
        );
        push(
            first,
            Act::RegisterKey {
                official: second.official.clone(),
                key: key_hex(&second.key.verifying_key()),
            },
        );
        push(
            first,
            Act::GrantRole {
                official: second.official.clone(),
                grant: Grant {
                    role: Role::Admin,
                    jurisdiction: home.jurisdiction,
                },
            },
        );
        for authority in directory.authorities.values() {
            if authority.id == home.id {
                continue;
            }
            push(
                first,
                Act::AddAuthority {
                    authority: authority.id.clone(),
                    name: authority.name.clone(),
                    name_en: authority.name_en.clone(),
                    jurisdiction: authority.jurisdiction,
                    contact: authority.contact.clone(),
                },
            );
        }
        for official in directory.officials.values() {
            let key = self
                .signers
                .official(&official.id)
                .ok_or_else(|| FoundingError::NoKey(format!("official {}", official.id)))?;
            push(
                first,
                Act::AddOfficial {
                    official: official.id.clone(),
                    name: official.id.to_string(),
                    authority: official.authority.clone(),
                },
            );
            push(
                first,
                Act::RegisterKey {
                    official: official.id.clone(),
                    key: key_hex(&key.verifying_key()),
                },
            );
            let grants = match self.grants.get(&official.id) {
                Some(grants) => grants.clone(),
                None => match directory.authorities.get(&official.authority) {
                    Some(authority) => vec![Grant {
                        role: Role::HealthOfficial,
                        jurisdiction: authority.jurisdiction,
                    }],
                    // Left to the replay below, which names the unknown authority.
                    None => Vec::new(),
                },
            };
            for grant in grants {
                push(
                    first,
                    Act::GrantRole {
                        official: official.id.clone(),
                        grant,
                    },
                );
            }
        }
        for source in directory.sources.values() {
            let key = self
                .signers
                .source(&source.id)
                .ok_or_else(|| FoundingError::NoKey(format!("data source {}", source.id)))?;
            let proposal = push(
                first,
                Act::RegisterSource {
                    source: source.id.clone(),
                    kind: source.kind,
                    authority: source.authority.clone(),
                    name: source.name.clone(),
                    key: key_hex(&key.verifying_key()),
                },
            );
            push(second, Act::Confirm { proposal });
        }
        let replayed = Registry::replay(
            acts.iter()
                .enumerate()
                .map(|(i, act)| (first_leaf.saturating_add(i as u64), act.to_bytes())),
        );
        if !replayed.problems.is_empty() {
            return Err(FoundingError::Problems(replayed.problems));
        }
        Ok(acts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mingma_core::{Authority, DataSource, Jurisdiction, Official, SourceKind};

    fn directory() -> Directory {
        let mut directory = Directory::default();
        for (id, place) in [("hc-41", "41"), ("hc-4101", "4101"), ("cdc-4101", "4101")] {
            let id = AuthorityId::parse(id).expect("id");
            directory.authorities.insert(
                id.clone(),
                Authority {
                    id,
                    name: format!("authority {place}"),
                    name_en: None,
                    jurisdiction: Jurisdiction::parse(place).expect("a division"),
                    contact: None,
                },
            );
        }
        for (id, authority) in [("off-a", "hc-4101"), ("off-b", "cdc-4101")] {
            let id = OfficialId::parse(id).expect("id");
            directory.officials.insert(
                id.clone(),
                Official {
                    id,
                    authority: AuthorityId::parse(authority).expect("id"),
                },
            );
        }
        let lab = DataSourceId::parse("lab-1").expect("id");
        directory.sources.insert(
            lab.clone(),
            DataSource {
                id: lab,
                kind: SourceKind::Lab,
                authority: AuthorityId::parse("cdc-4101").expect("id"),
                name: "lab".into(),
            },
        );
        directory
    }

    fn at() -> Timestamp {
        Timestamp::parse("2022-05-01T00:00:00+08:00").expect("time")
    }

    #[test]
    fn a_founding_registers_the_whole_directory_and_replays_cleanly() {
        let founding = Founding::derived(
            &directory(),
            &AuthorityId::parse("hc-41").expect("id"),
            "test",
            1,
            at(),
        );
        let acts = founding.acts(5).expect("acts");
        let registry = Registry::replay(
            acts.iter()
                .enumerate()
                .map(|(i, a)| (5 + i as u64, a.to_bytes())),
        );
        assert!(registry.problems.is_empty(), "{:?}", registry.problems);
        assert!(registry.pending.is_empty());
        assert_eq!(registry.directory.sources.len(), 1);
        // Two admins and the directory's two officials.
        assert_eq!(registry.directory.officials.len(), 4);
        assert_eq!(registry.keys.iter().count(), 5);
        let b = OfficialId::parse("off-b").expect("id");
        assert_eq!(
            registry.grants_of(&b),
            [Grant {
                role: Role::HealthOfficial,
                jurisdiction: Jurisdiction::parse("4101").expect("division"),
            }]
        );
        // The same seed gives the same keys; another seed others.
        let again = Founding::derived(&directory(), &founding.admin_authority, "test", 1, at());
        assert_eq!(again.acts(5).expect("acts"), acts);
        let other = Founding::derived(&directory(), &founding.admin_authority, "test", 2, at());
        assert_ne!(other.acts(5).expect("acts"), acts);
    }

    #[test]
    fn a_founding_that_would_not_replay_says_why() {
        // City admins cannot add the province's authority.
        let founding = Founding::derived(
            &directory(),
            &AuthorityId::parse("hc-4101").expect("id"),
            "test",
            1,
            at(),
        );
        let err = founding
            .acts(0)
            .expect_err("outside the admins' jurisdiction");
        assert!(err.to_string().contains("outside jurisdiction"), "{err}");
        let mut missing = Founding::derived(
            &directory(),
            &AuthorityId::parse("hc-41").expect("id"),
            "test",
            1,
            at(),
        );
        missing.signers = Signers::new();
        assert!(matches!(missing.acts(0), Err(FoundingError::NoKey(_))));
    }
}
