use axum::http::{Method, StatusCode};
use mingma_core::{Timestamp, VenueId};
use mingma_store::Store as _;
use mingma_token::VenueKey;
use serde_json::json;

use crate::support::{assert_error, TestApp};

const OPERATOR: &str = "110101199003071233";
const GUEST: &str = "410105200001010017";

async fn venue(t: &TestApp, session: &str) -> serde_json::Value {
    let (status, v) = t
        .json(
            Method::POST,
            "/api/v1/venues",
            Some(json!({"name": "老城烩面馆", "address": "郑州市中原区建设路 12 号", "street": "410102001", "kind": "restaurant"})),
            Some(session),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v
}

#[tokio::test]
async fn venues_are_registered_with_checked_fields() {
    let t = TestApp::new().await;
    let s = t.sign_in(OPERATOR, "王五", "13800001234").await;
    let v = venue(&t, &s).await;
    assert!(
        v["poster_url"]
            .as_str()
            .unwrap()
            .starts_with("http://mingma.test/v/MV1."),
        "{v}"
    );
    assert_eq!(v["street_name"], "河南省 郑州市 中原区 林山寨街道");
    let cases = [
        (
            json!({"name": "x", "address": "y", "street": "4101", "kind": "restaurant"}),
            "malformed_street",
        ),
        (
            json!({"name": "x", "address": "y", "street": "999999999", "kind": "restaurant"}),
            "malformed_street",
        ),
        (
            json!({"name": "x", "address": "y", "street": "410102001", "kind": "bar"}),
            "malformed_venue_kind",
        ),
        (
            json!({"name": "", "address": "y", "street": "410102001", "kind": "other"}),
            "malformed_venue_name",
        ),
    ];
    for (body, code) in cases {
        let got = t
            .json(Method::POST, "/api/v1/venues", Some(body), Some(&s))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, code);
    }
    let (status, public) = t
        .json(
            Method::GET,
            &format!("/api/v1/venues/{}", v["id"].as_str().unwrap()),
            None,
            None,
        )
        .await;
    assert_eq!((status, &public["name"]), (StatusCode::OK, &v["name"]));
    let got = t
        .json(Method::GET, "/api/v1/venues/v-nope", None, None)
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "venue_unknown");
    let (status, _, svg) = t
        .raw(
            Method::GET,
            &format!("/venues/{}/poster.svg", v["id"].as_str().unwrap()),
            None,
            None,
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(svg.contains("老城烩面馆") && svg.contains("<path"), "{svg}");
}

/// The pixels of a PNG as grey levels: width, height, one byte a pixel.
fn grey_png(bytes: &[u8]) -> (png::ColorType, u32, u32, Vec<u8>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let colour = reader.info().color_type;
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(
        frame.color_type,
        png::ColorType::Rgb,
        "a palette expands to RGB"
    );
    let grey = pixels[..frame.buffer_size()]
        .chunks_exact(3)
        .map(|p| {
            ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000) as u8
        })
        .collect();
    (colour, frame.width, frame.height, grey)
}

#[tokio::test]
async fn the_png_poster_carries_the_poster_url_and_the_name() {
    let t = TestApp::new().await;
    let s = t.sign_in(OPERATOR, "王五", "13800001234").await;
    let v = venue(&t, &s).await;
    let id = v["id"].as_str().unwrap();
    assert_eq!(
        v["poster_png"],
        format!("http://mingma.test/venues/{id}/poster.png")
    );
    let path = format!("/venues/{id}/poster.png");
    let (status, headers, png) = t.bytes(Method::GET, &path, None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
    let (colour, width, height, grey) = grey_png(&png);
    assert_eq!(
        (colour, width, height),
        (png::ColorType::Indexed, 1200, 1700)
    );
    // The QR in it decodes to the poster's check-in URL.
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
            grey[y * width as usize + x]
        });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, v["poster_url"].as_str().unwrap());
    // The name is drawn in the name's slot (below the title band, above the
    // address), in ink; the same venue with another name draws other pixels there.
    let slot = |grey: &[u8]| grey[240 * 1200..400 * 1200].to_vec();
    assert!(slot(&grey).iter().any(|p| *p < 0x20));
    let (status, other) = t
        .json(
            Method::POST,
            "/api/v1/venues",
            Some(json!({"name": "二七广场", "address": "郑州市中原区建设路 12 号", "street": "410102001", "kind": "restaurant"})),
            Some(&s),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other_path = format!("/venues/{}/poster.png", other["id"].as_str().unwrap());
    let (_, _, other_png) = t.bytes(Method::GET, &other_path, None, None, "").await;
    assert_ne!(slot(&grey_png(&other_png).3), slot(&grey));
    // The venue page links it, next to the SVG.
    let (_, _, html) = t
        .raw(Method::GET, &format!("/venues/{id}"), None, None, "")
        .await;
    assert!(
        html.contains(&format!("href=\"{path}\"")) && html.contains("poster.svg"),
        "{html}"
    );
    // An unknown venue: 404 with the stable code, as for the SVG.
    for poster in ["poster.png", "poster.svg"] {
        let (status, headers, page) = t
            .raw(
                Method::GET,
                &format!("/venues/v-nope/{poster}"),
                None,
                None,
                "",
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(page.contains("venue_unknown"), "{page}");
    }
}

#[tokio::test]
async fn check_ins_record_their_presence_assurance() {
    let t = TestApp::new().await;
    let op = t.sign_in(OPERATOR, "王五", "13800001234").await;
    let guest = t.sign_in(GUEST, "赵六", "13900001111").await;
    let v = venue(&t, &op).await;
    let id = v["id"].as_str().unwrap();
    // The rotating code is the operator's only.
    let got = t
        .json(
            Method::GET,
            &format!("/api/v1/venues/{id}/rotating"),
            None,
            Some(&guest),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "not_venue_operator");
    let (status, rotating) = t
        .json(
            Method::GET,
            &format!("/api/v1/venues/{id}/rotating"),
            None,
            Some(&op),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotating}");
    // A fresh rotating token, given as the QR's URL.
    let (status, fresh) = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": rotating["url"]})),
            Some(&guest),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fresh}");
    assert_eq!(
        (
            fresh["presence"].as_str(),
            fresh["stale"].as_bool(),
            fresh["new"].as_bool()
        ),
        (Some("rotating"), Some(false), Some(true))
    );
    assert_eq!(fresh["code"]["colour"], "green");
    let scan = t
        .app
        .store
        .record(&mingma_core::RecordId::parse(fresh["record"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scan.evidence.recorded_by, mingma_core::Recorder::Holder);
    // The same scan again (a reload) is not recorded twice.
    let size = t.ledger_size().await;
    let (_, again) = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": rotating["token"]})),
            Some(&guest),
        )
        .await;
    assert_eq!(
        (again["new"].as_bool(), &again["record"]),
        (Some(false), &fresh["record"])
    );
    assert_eq!(t.ledger_size().await, size);
    // A reload seconds later (the same ten minutes, the token still fresh): its id is
    // taken by the first scan with another time, and it is answered with that scan.
    t.advance(3);
    let (status, later) = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": rotating["token"]})),
            Some(&guest),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{later}");
    assert_eq!(
        (later["new"].as_bool(), &later["record"], &later["at"]),
        (Some(false), &fresh["record"], &fresh["at"])
    );
    assert_eq!(t.ledger_size().await, size);
    // The poster.
    let (status, poster) = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": v["poster_url"]})),
            Some(&guest),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(poster["presence"], "static_poster");
    // The rotating token replayed five minutes later (a forwarded photo): recorded as
    // stale, and the holder is told.
    t.advance(300);
    let (status, stale) = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": rotating["token"]})),
            Some(&guest),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stale}");
    assert_eq!(
        (
            stale["presence"].as_str(),
            stale["stale"].as_bool(),
            stale["new"].as_bool()
        ),
        (Some("stale"), Some(true), Some(true))
    );
    // The page tells the holder too.
    let token = rotating["token"].as_str().unwrap();
    let (status, _, html) = t
        .raw(Method::GET, &format!("/v/{token}"), None, Some(&guest), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"stale-notice\""), "{html}");
}

#[tokio::test]
async fn forged_and_malformed_venue_tokens_record_nothing() {
    let t = TestApp::new().await;
    let op = t.sign_in(OPERATOR, "王五", "13800001234").await;
    let guest = t.sign_in(GUEST, "赵六", "13900001111").await;
    let v = venue(&t, &op).await;
    let id = VenueId::parse(v["id"].as_str().unwrap()).unwrap();
    let size = t.ledger_size().await;
    let forged = VenueKey::from_seed([8; 32]).rotating_token(&id, t.app.now());
    let got = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": forged})),
            Some(&guest),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "venue_token_forged");
    for bad in ["", "MV1.", "MV1.AAAA", "http://mingma.test/v/hello"] {
        let got = t
            .json(
                Method::POST,
                "/api/v1/checkins",
                Some(json!({"token": bad})),
                Some(&guest),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "venue_token_malformed");
    }
    // A genuine token of a venue that is not registered.
    let ghost = crate::support::venue_key().static_token(
        &VenueId::parse("v-ghost").unwrap(),
        Timestamp::parse("2022-06-01T00:00:00+08:00").unwrap(),
    );
    let got = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": ghost})),
            Some(&guest),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "venue_unknown");
    assert_eq!(t.ledger_size().await, size, "nothing may be recorded");
    // The page refuses it too, with the message, and records nothing.
    let (status, _, html) = t
        .raw(Method::GET, &format!("/v/{forged}"), None, Some(&guest), "")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("venue_token_forged"), "{html}");
    assert_eq!(t.ledger_size().await, size);
}

#[tokio::test]
async fn leaving_completes_the_check_in_and_only_its_holder_can_record_it() {
    let t = TestApp::new().await;
    let op = t.sign_in(OPERATOR, "王五", "13800001234").await;
    let guest = t.sign_in(GUEST, "赵六", "13900001111").await;
    let v = venue(&t, &op).await;
    let (_, done) = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": v["poster_url"]})),
            Some(&guest),
        )
        .await;
    let id = done["record"].as_str().unwrap().to_owned();
    // Not in the same second as the entry.
    let size = t.ledger_size().await;
    let got = t
        .json(
            Method::POST,
            &format!("/api/v1/checkins/{id}/leave"),
            None,
            Some(&guest),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "leave_too_soon");
    t.advance(40 * 60);
    // Someone else cannot record it; an unknown or malformed id is unknown.
    for (path, who) in [
        (format!("/api/v1/checkins/{id}/leave"), &op),
        (
            "/api/v1/checkins/scan:000000000000000000000000/leave".to_owned(),
            &guest,
        ),
        ("/api/v1/checkins/%20/leave".to_owned(), &guest),
        ("/api/v1/checkins/be-0610-001/leave".to_owned(), &guest),
    ] {
        let got = t.json(Method::POST, &path, None, Some(who)).await;
        assert_error(&got, StatusCode::NOT_FOUND, "checkin_unknown");
    }
    assert_eq!(t.ledger_size().await, size, "refusals record nothing");
    let (status, left) = t
        .json(
            Method::POST,
            &format!("/api/v1/checkins/{id}/leave"),
            None,
            Some(&guest),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{left}");
    assert_eq!(left["left_at"], "2022-06-14T12:40:00+08:00");
    // The open scan is completed by the exit, and the history says so. (The code
    // page's explanation leaves out scans outside any risk area: they cannot matter.)
    let (_, history) = t
        .json(
            Method::GET,
            "/api/v1/me/history?lang=en",
            None,
            Some(&guest),
        )
        .await;
    let entry = history
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["line"].as_str().unwrap().contains(&format!("{id} ")))
        .unwrap_or_else(|| panic!("{history}"));
    assert!(
        entry["line"]
            .as_str()
            .unwrap()
            .contains("completed by the exit record"),
        "{entry}"
    );
    // Once: a second leave answers the same record.
    let (status, again) = t
        .json(
            Method::POST,
            &format!("/api/v1/checkins/{id}/leave"),
            None,
            Some(&guest),
        )
        .await;
    assert_eq!((status, &again["exit"]), (StatusCode::OK, &left["exit"]));
    let exit = left["exit"].as_str().unwrap();
    let got = t
        .json(
            Method::POST,
            &format!("/api/v1/checkins/{exit}/leave"),
            None,
            Some(&guest),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "already_left");
}
