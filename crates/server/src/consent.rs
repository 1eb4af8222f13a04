//! A dependant's consent by an in-person check recorded by a community official —
//! the second way a proxy may add a dependant (the first is a one-time code to the
//! dependant's phone, in `app`).
//!
//! 1. The proxy asks ([`App::request_in_person`]): the dependant's ID number and
//!    name (checked by the identity verifier, as for the one-time code). The request
//!    gets a reference of 10 characters, valid for three days, which the proxy
//!    brings, with the dependant and their ID card, to a health official of the
//!    community (street) where the dependant lives.
//! 2. The official looks the request up ([`App::in_person_view`]: masked names, the
//!    last four characters of the ID number), checks the ID card and types its
//!    number and the dependant's street code ([`App::draft_witness_consent`]): the
//!    number must be the request's dependant's, and the official's grants must permit
//!    [`Action::WitnessConsent`] at that street. The accounts hold no address, so
//!    the official states the street, and the act records it.
//! 3. The service drafts an [`Act::WitnessConsent`] — the request's reference, the
//!    street, and a salted commitment to the proxy and the dependant
//!    ([`consent_link`]; the log names no person) — which the official's browser
//!    seals; only when the registry accepts the seal is the act appended
//!    ([`App::append_witnessed`]) and the dependant linked, with consent
//!    `in_person` and the act's leaf.

use axum::http::StatusCode;
use mingma_authority::act::consent_link;
use mingma_authority::{authorize, Act, ActBody, Action, Grant, Refusal, SignedAct};
use mingma_core::{Jurisdiction, Level, PersonKey, Timestamp};
use mingma_store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::{Dependant, InPersonRequest, Witnessed};
use crate::app::App;
use crate::auth::parse_id;
use crate::error::{AppError, AppResult};
use crate::officials::{Draft, Principal};

/// How long an in-person request waits for the official's check: three days.
pub const IN_PERSON_SECONDS: i64 = 3 * 24 * 3600;
/// In-person requests a proxy may have open at once.
const IN_PERSON_OPEN: usize = 3;
/// Crockford's base 32: no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a reference.
const REFERENCE_LENGTH: usize = 10;

/// A proxy's open request, as the proxy sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InPersonJson {
    /// The reference to show the official, as `ABCDE-FGHJK`.
    pub reference: String,
    /// The dependant's masked name.
    pub masked_name: String,
    /// Last four characters of the dependant's ID number.
    pub id_last_four: String,
    /// When the request lapses.
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
}

/// A request as the official looking it up sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InPersonView {
    /// The reference, as `ABCDE-FGHJK`.
    pub reference: String,
    /// The dependant's masked name (as the proxy gave it).
    pub masked_name: String,
    /// Last four characters of the dependant's ID number, to compare with the card.
    pub id_last_four: String,
    /// The proxy's masked name.
    pub proxy_masked_name: String,
    /// When it was made.
    #[schema(value_type = String)]
    pub requested_at: Timestamp,
    /// When it lapses.
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
}

/// The link a witnessed consent created.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentLinked {
    /// The request's reference.
    pub reference: String,
    /// The dependant's masked name.
    pub masked_name: String,
    /// Last four characters of the dependant's ID number.
    pub id_last_four: String,
}

/// `ABCDEFGHJK` as `ABCDE-FGHJK`.
pub fn display_reference(reference: &str) -> String {
    match (reference.get(..5), reference.get(5..)) {
        (Some(a), Some(b)) if !b.is_empty() => format!("{a}-{b}"),
        _ => reference.to_owned(),
    }
}

/// A reference as typed (any case, with dashes or spaces; O for 0, I and L for 1)
/// in its stored form; `None` if it cannot be one.
pub fn parse_reference(text: &str) -> Option<String> {
    let reference: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    (reference.len() == REFERENCE_LENGTH && reference.bytes().all(|b| ALPHABET.contains(&b)))
        .then_some(reference)
}

fn new_reference() -> AppResult<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(AppError::internal)?;
    let mut n = u64::from_be_bytes(bytes);
    Ok((0..REFERENCE_LENGTH)
        .map(|_| {
            let c = ALPHABET[(n % 32) as usize] as char;
            n /= 32;
            c
        })
        .collect())
}

fn unknown_request(reference: &str) -> AppError {
    AppError::not_found(
        "consent_request_unknown",
        format!("no consent request {reference} is open (completed ones are closed)"),
    )
}

fn expired_request(reference: &str, at: Timestamp) -> AppError {
    AppError::new(
        StatusCode::GONE,
        "consent_request_expired",
        format!("consent request {reference} lapsed at {at}; the proxy must ask again"),
    )
}

fn in_progress(reference: &str) -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        "consent_request_in_progress",
        format!("an official's check of consent request {reference} is being recorded"),
    )
}

/// The street an official states, checked to be one.
fn parse_street(text: &str) -> AppResult<Jurisdiction> {
    let street = Jurisdiction::parse(text.trim())
        .map_err(|e| AppError::bad_request("malformed_street", format!("street code: {e}")))?;
    if street.level() != Level::Street {
        return Err(AppError::bad_request(
            "malformed_street",
            format!(
                "{street} ({}) is not a street-level GB/T 2260 code (9 digits)",
                street.full_name()
            ),
        ));
    }
    Ok(street)
}

/// 403 `not_permitted` unless some grant's role may witness a consent.
fn may_witness(grants: &[Grant]) -> AppResult<()> {
    if grants
        .iter()
        .any(|g| g.role.permits(Action::WitnessConsent))
    {
        return Ok(());
    }
    let mut roles: Vec<&str> = grants.iter().map(|g| g.role.as_str()).collect();
    roles.sort_unstable();
    roles.dedup();
    let refusal = Refusal::NotPermitted {
        action: Action::WitnessConsent,
        roles: if roles.is_empty() {
            "none".to_owned()
        } else {
            roles.join(", ")
        },
    };
    Err(AppError::forbidden(refusal.code(), refusal.to_string()))
}

fn json_of(request: &InPersonRequest) -> InPersonJson {
    InPersonJson {
        reference: display_reference(&request.reference),
        masked_name: mingma_token::code::mask_name(&request.dependant.name),
        id_last_four: request.dependant.id_last_four.clone(),
        expires_at: request.expires_at,
    }
}

impl<S: Store> App<S> {
    /// A proxy asks for a dependant's consent by an in-person check: a request with
    /// a reference the proxy shows a community official, valid for three days.
    pub async fn request_in_person(
        &self,
        proxy: PersonKey,
        id: &str,
        name: &str,
    ) -> AppResult<InPersonJson> {
        let (id, name, person) = self.check_dependant(proxy, id, name).await?;
        if self
            .accounts
            .dependants(proxy)
            .await?
            .iter()
            .any(|d| d.person == person)
        {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "dependant_linked",
                "this person is already one of your dependants",
            ));
        }
        let now = self.now();
        let open = self.accounts.in_person_of_proxy(proxy, now).await?;
        if open.len() >= IN_PERSON_OPEN {
            return Err(AppError::too_many(
                "too_many_requests",
                format!("{} in-person requests of yours are open; wait for them to be checked or to lapse", open.len()),
            ));
        }
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(AppError::internal)?;
        let mut request = InPersonRequest {
            reference: new_reference()?,
            proxy,
            dependant: Dependant {
                person,
                name: name.as_str().to_owned(),
                id_last_four: id.last_four().to_owned(),
                consent: "in_person".into(),
                consent_leaf: None,
            },
            salt,
            created_at: now,
            expires_at: now.plus_seconds(IN_PERSON_SECONDS),
            claimed: false,
        };
        // 50 random bits: a collision is all but impossible, and then a new draw.
        for _ in 0..3 {
            if self.accounts.add_in_person(request.clone()).await? {
                return Ok(json_of(&request));
            }
            request.reference = new_reference()?;
        }
        Err(AppError::internal("no free consent request reference"))
    }

    /// The proxy's open in-person requests.
    pub async fn in_person_requests(&self, proxy: PersonKey) -> AppResult<Vec<InPersonJson>> {
        let open = self.accounts.in_person_of_proxy(proxy, self.now()).await?;
        Ok(open.iter().map(json_of).collect())
    }

    /// An open request by its reference, or the refusal: 400 for what cannot be a
    /// reference, 404 unknown, 410 lapsed, 409 being recorded.
    async fn open_request(&self, reference: &str) -> AppResult<InPersonRequest> {
        let parsed = parse_reference(reference).ok_or_else(|| {
            AppError::bad_request(
                "malformed_reference",
                "a consent request's reference has 10 letters and digits (e.g. ABCDE-12345)",
            )
        })?;
        let request = self
            .accounts
            .in_person(parsed.clone())
            .await?
            .ok_or_else(|| unknown_request(&display_reference(&parsed)))?;
        if self.now() >= request.expires_at {
            return Err(expired_request(
                &display_reference(&parsed),
                request.expires_at,
            ));
        }
        if request.claimed {
            return Err(in_progress(&display_reference(&parsed)));
        }
        Ok(request)
    }

    /// A request as an official who may witness consents sees it.
    pub async fn in_person_view(
        &self,
        principal: &Principal,
        reference: &str,
    ) -> AppResult<InPersonView> {
        let official = Self::official_of(principal)?;
        let registry = self.engine.registry().await?;
        may_witness(registry.grants_of(official))?;
        let request = self.open_request(reference).await?;
        let proxy = self.accounts.account(request.proxy).await?;
        Ok(InPersonView {
            reference: display_reference(&request.reference),
            masked_name: mingma_token::code::mask_name(&request.dependant.name),
            id_last_four: request.dependant.id_last_four.clone(),
            proxy_masked_name: proxy
                .map(|a| mingma_token::code::mask_name(&a.name))
                .unwrap_or_default(),
            requested_at: request.created_at,
            expires_at: request.expires_at,
        })
    }

    /// Drafts the act of an official's in-person check for the official to seal:
    /// the role and the jurisdiction at the stated `street` first, then the
    /// request (open), then the ID number typed from the card (the request's
    /// dependant's). Nothing is recorded until the seal is submitted.
    pub async fn draft_witness_consent(
        &self,
        principal: &Principal,
        reference: &str,
        id_number: &str,
        street: &str,
    ) -> AppResult<Draft> {
        let official = Self::official_of(principal)?.clone();
        let registry = self.engine.registry().await?;
        let grants = registry.grants_of(&official);
        may_witness(grants)?;
        let street = parse_street(street)?;
        authorize(grants, Action::WitnessConsent, street)
            .map_err(|r| AppError::forbidden(r.code(), r.to_string()))?;
        let request = self.open_request(reference).await?;
        let id = parse_id(id_number)?;
        if self.keys.pseudonym.person_key(&id) != request.dependant.person {
            return Err(AppError::unprocessable(
                "id_card_mismatch",
                format!(
                    "the ID number is not that of consent request {}'s dependant (ID ending {})",
                    display_reference(&request.reference),
                    request.dependant.id_last_four
                ),
            ));
        }
        if self
            .accounts
            .dependants(request.proxy)
            .await?
            .iter()
            .any(|d| d.person == request.dependant.person && d.consent == "in_person")
        {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "dependant_linked",
                "this dependant's in-person consent is recorded already",
            ));
        }
        let body = ActBody {
            by: official,
            at: self.now(),
            act: Act::WitnessConsent {
                link: consent_link(
                    &request.salt,
                    &request.reference,
                    &request.proxy,
                    &request.dependant.person,
                ),
                request: request.reference,
                street,
            },
        };
        registry
            .check_unsealed(&body)
            .map_err(crate::officials::act_refused)?;
        self.draft_act(principal, body, &registry).await
    }

    /// Appends a sealed, registry-checked [`Act::WitnessConsent`] and links the
    /// dependant: the request must still be open and the act's commitment its own;
    /// the request is claimed while the act is appended, so two officials' seals
    /// cannot both complete it.
    pub(crate) async fn append_witnessed(
        &self,
        act: &SignedAct,
    ) -> AppResult<(u64, ConsentLinked)> {
        let Act::WitnessConsent {
            request: reference,
            street,
            link,
        } = &act.body.act
        else {
            return Err(AppError::internal("not a witnessed consent"));
        };
        let request = self.open_request(reference).await?;
        let expected = consent_link(
            &request.salt,
            &request.reference,
            &request.proxy,
            &request.dependant.person,
        );
        if &expected != link {
            return Err(AppError::bad_request(
                "act_refused",
                format!(
                    "the act's link is not consent request {}'s",
                    display_reference(reference)
                ),
            ));
        }
        let now = self.now();
        if !self
            .accounts
            .claim_in_person(request.reference.clone(), now)
            .await?
        {
            return Err(in_progress(&display_reference(reference)));
        }
        let leaf = match self.store.append_act(act.to_bytes()).await {
            Ok(leaf) => leaf,
            Err(e) => {
                self.accounts
                    .unclaim_in_person(request.reference.clone())
                    .await?;
                return Err(e.into());
            }
        };
        let linked = ConsentLinked {
            reference: display_reference(&request.reference),
            masked_name: mingma_token::code::mask_name(&request.dependant.name),
            id_last_four: request.dependant.id_last_four.clone(),
        };
        self.accounts
            .complete_in_person(
                request,
                Witnessed {
                    leaf,
                    official: act.body.by.to_string(),
                    street: street.to_string(),
                    at: now,
                },
            )
            .await?;
        Ok((leaf, linked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_as_typed() {
        for _ in 0..50 {
            let r = new_reference().unwrap();
            assert_eq!(parse_reference(&r), Some(r.clone()));
            let shown = display_reference(&r);
            assert_eq!(shown.len(), 11);
            assert_eq!(parse_reference(&shown.to_lowercase()), Some(r));
        }
        assert_eq!(
            parse_reference("abcde-fghio"),
            Some("ABCDEFGH10".to_owned())
        );
        assert_eq!(
            parse_reference("ABCDE 1234L"),
            Some("ABCDE12341".to_owned())
        );
        for bad in [
            "",
            "ABCDE",
            "ABCDE-1234U",
            "ABCDE-123456",
            "ABCDE-1234é",
            "../../x",
        ] {
            assert_eq!(parse_reference(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_street_must_be_a_street() {
        assert!(parse_street("410105001").is_ok());
        for bad in ["4101", "410105", "41010500", "x", "999999999"] {
            assert_eq!(
                parse_street(bad).unwrap_err().code,
                "malformed_street",
                "{bad}"
            );
        }
    }
}
