//! The registry of who and what evidence refers to: authorities, their officials,
//! external data sources and venues.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::division::Jurisdiction;
use crate::evidence::{SourceKind, VenueKind};
use crate::ids::{AuthorityId, DataSourceId, OfficialId, VenueId};

/// A body that owns evidence: a health commission, a CDC, a customs office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authority {
    /// Id.
    pub id: AuthorityId,
    /// Chinese name, e.g. 河南省卫生健康委员会.
    pub name: String,
    /// English name, if given.
    pub name_en: Option<String>,
    /// Where it acts.
    pub jurisdiction: Jurisdiction,
    /// How the public reaches it (phone, address), for appeals.
    pub contact: Option<String>,
}

/// A person acting for an authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Official {
    /// Account id.
    pub id: OfficialId,
    /// The authority they act for.
    pub authority: AuthorityId,
}

/// A registered external system that signs what it submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataSource {
    /// Id.
    pub id: DataSourceId,
    /// Lab, customs post or case-reporting unit.
    pub kind: SourceKind,
    /// The authority that owns its records.
    pub authority: AuthorityId,
    /// Display name.
    pub name: String,
}

/// A place that displays a scan code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Venue {
    /// Id.
    pub id: VenueId,
    /// Display name.
    pub name: String,
    /// Its street (9-digit GB/T 2260 code).
    pub street: Jurisdiction,
    /// Kind, which sets the assumed stay.
    pub kind: VenueKind,
}

/// Everything evidence can name, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// Authorities.
    pub authorities: BTreeMap<AuthorityId, Authority>,
    /// Officials.
    pub officials: BTreeMap<OfficialId, Official>,
    /// Data sources.
    pub sources: BTreeMap<DataSourceId, DataSource>,
    /// Venues.
    pub venues: BTreeMap<VenueId, Venue>,
}

impl Directory {
    /// The display name of an authority, falling back to its id.
    pub fn authority_name(&self, id: &AuthorityId, english: bool) -> String {
        match self.authorities.get(id) {
            Some(a) if english => a.name_en.clone().unwrap_or_else(|| a.name.clone()),
            Some(a) => a.name.clone(),
            None => id.to_string(),
        }
    }
}
