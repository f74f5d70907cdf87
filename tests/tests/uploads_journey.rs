//! Uploads through the local gateway: presign, PUT the bytes to the signed URL, and the
//! thumbnails task (raised by the stand-in's S3 event) makes the 256 px and 1024 px
//! versions, or removes a file that is not an image.

use std::io::Cursor;

use runcrew_local::Running;
use runcrew_tests::{bearer, call, dev_login, eventually, http};
use serde_json::{Value, json};

fn url(api: &Running, path: &str) -> String {
    format!("{}{path}", api.url())
}

async fn presign(api: &Running, login: &Value, body: Value) -> (u16, Value) {
    call(
        http()
            .post(url(api, "/v1/uploads"))
            .bearer_auth(bearer(login))
            .json(&body),
    )
    .await
}

/// PUTs `bytes` as the presigned answer says: its URL, method and signed headers
/// (Content-Length is the body's own, as an HTTP client sends it).
async fn upload(grant: &Value, bytes: Vec<u8>) -> u16 {
    let mut request = http().put(grant["upload"]["url"].as_str().expect("upload url"));
    for pair in grant["upload"]["headers"].as_array().expect("headers") {
        if pair[0]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case("content-length"))
        {
            continue;
        }
        request = request.header(
            pair[0].as_str().expect("name"),
            pair[1].as_str().expect("value"),
        );
    }
    request
        .body(bytes)
        .send()
        .await
        .expect("upload")
        .status()
        .as_u16()
}

async fn status_of(address: &str) -> u16 {
    http()
        .get(address)
        .send()
        .await
        .expect("fetch")
        .status()
        .as_u16()
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 200) as u8, (y % 200) as u8, 120])
    });
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Jpeg)
        .expect("jpeg");
    bytes
}

#[tokio::test]
async fn an_uploaded_photo_gets_its_256_and_1024_pixel_versions() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    // given a 1600x1200 photo and a presigned PUT for exactly its size
    let photo = jpeg(1600, 1200);
    let (status, grant) = presign(
        &api,
        &alice,
        json!({"purpose": "avatar", "content_type": "image/jpeg", "size": photo.len()}),
    )
    .await;
    assert_eq!(status, 201, "{grant}");
    let alice_id = alice["user_id"].as_str().expect("id");
    let key = grant["key"].as_str().expect("key");
    assert!(
        key.starts_with(&format!("uploads/{alice_id}/")) && key.ends_with(".jpg"),
        "{key}"
    );
    // when the bytes are PUT to the signed URL
    assert_eq!(upload(&grant, photo).await, 200);
    // then the file is on the CDN and both thumbnails appear, never larger than asked
    assert_eq!(
        status_of(grant["file_url"].as_str().expect("file url")).await,
        200
    );
    for (size, expected) in [("256", (256, 192)), ("1024", (1024, 768))] {
        let address = grant["thumbnail_urls"][size]
            .as_str()
            .expect("thumbnail url")
            .to_owned();
        let bytes = eventually("a thumbnail", || {
            let address = address.clone();
            async move {
                let response = http().get(&address).send().await.ok()?;
                if response.status() != 200 {
                    return None;
                }
                response.bytes().await.ok()
            }
        })
        .await;
        let thumbnail = image::load_from_memory(&bytes).expect("an image");
        assert_eq!((thumbnail.width(), thumbnail.height()), expected, "{size}");
        assert_eq!(
            image::guess_format(&bytes).expect("format"),
            image::ImageFormat::Jpeg
        );
    }
    api.stop().await;
}

#[tokio::test]
async fn a_text_file_sent_as_png_is_refused_and_removed() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    // given a presigned PUT for a "PNG" that is really text
    let text = b"name,distance\nalice,5000\n".to_vec();
    let (status, grant) = presign(
        &api,
        &alice,
        json!({"purpose": "course_photo", "content_type": "image/png", "size": text.len()}),
    )
    .await;
    assert_eq!(status, 201, "{grant}");
    // when it is uploaded (the bucket itself cannot tell)
    assert_eq!(upload(&grant, text).await, 200);
    // then the thumbnails task refuses it: the file is removed from the CDN
    let file_url = grant["file_url"].as_str().expect("file url").to_owned();
    eventually("the refused file's removal", || {
        let file_url = file_url.clone();
        async move { (status_of(&file_url).await == 404).then_some(()) }
    })
    .await;
    // and no thumbnail was made
    for size in ["256", "1024"] {
        let address = grant["thumbnail_urls"][size].as_str().expect("url");
        assert_eq!(status_of(address).await, 404, "{size}");
    }
    api.stop().await;
}

#[tokio::test]
async fn an_upload_request_outside_the_rules_is_refused_naming_the_field() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    for (body, field) in [
        (
            json!({"purpose": "avatar", "content_type": "text/plain", "size": 10}),
            "content_type",
        ),
        (
            json!({"purpose": "avatar", "content_type": "image/gif", "size": 10}),
            "content_type",
        ),
        (
            json!({"purpose": "avatar", "content_type": "image/png", "size": 10 * 1024 * 1024 + 1}),
            "size",
        ),
        (
            json!({"purpose": "avatar", "content_type": "image/png", "size": 0}),
            "size",
        ),
        (
            json!({"purpose": "banner", "content_type": "image/png", "size": 10}),
            "purpose",
        ),
    ] {
        let (status, answer) = presign(&api, &alice, body).await;
        assert_eq!(status, 422, "{field}: {answer}");
        assert_eq!(answer["error"]["field"].as_str(), Some(field), "{answer}");
    }
    // and without a token there is no upload at all
    let (status, _) = call(http().post(url(&api, "/v1/uploads")).json(&json!({}))).await;
    assert_eq!(status, 401);
    // and bytes other than the signed length are refused by the bucket
    let (_, grant) = presign(
        &api,
        &alice,
        json!({"purpose": "avatar", "content_type": "image/jpeg", "size": 100}),
    )
    .await;
    assert_eq!(upload(&grant, vec![0; 50]).await, 403);
    api.stop().await;
}

#[tokio::test]
async fn after_erasure_the_old_token_gets_no_upload() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    // given alice erased her account
    runcrew_tests::delete_and_wait(&api, &alice, "/v1/users/me", 60).await;
    // when her still unexpired token asks for an upload, then it is refused
    let (status, answer) = presign(
        &api,
        &alice,
        json!({"purpose": "avatar", "content_type": "image/jpeg", "size": 100}),
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer.get("upload").is_none(), "{answer}");
    api.stop().await;
}

#[tokio::test]
async fn a_photo_put_after_its_owners_erasure_is_removed_not_published() {
    let (api, _dir) = runcrew_tests::start_local(&[]).await;
    let alice = dev_login(&api, "alice").await;
    // given an upload URL alice got before she erased her account (it lives 15 minutes)
    let photo = jpeg(800, 600);
    let (status, grant) = presign(
        &api,
        &alice,
        json!({"purpose": "avatar", "content_type": "image/jpeg", "size": photo.len()}),
    )
    .await;
    assert_eq!(status, 201, "{grant}");
    runcrew_tests::delete_and_wait(&api, &alice, "/v1/users/me", 60).await;
    // when the photo is PUT with it afterwards (the bucket still honours the signature)
    assert_eq!(upload(&grant, photo).await, 200);
    // then the thumbnails task removes it instead of publishing it and its thumbnails
    let file_url = grant["file_url"].as_str().expect("file url").to_owned();
    eventually("the orphan upload removed", || {
        let file_url = file_url.clone();
        async move { (status_of(&file_url).await == 404).then_some(()) }
    })
    .await;
    for size in ["256", "1024"] {
        let address = grant["thumbnail_urls"][size]
            .as_str()
            .expect("thumbnail url");
        assert_eq!(status_of(address).await, 404, "{size}");
    }
    api.stop().await;
}

/// The thumbnails task's event for a file at `encoded_key`, as S3 sends it: the sample
/// event with the key form-URL-encoded (a space is `+`, other bytes `%XX`).
fn created_event(encoded_key: &str) -> Value {
    let sample = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/thumbnails.json"),
    )
    .expect("the thumbnails sample");
    let mut event: Value = serde_json::from_str(&sample).expect("json");
    event["Records"][0]["s3"]["object"]["key"] = json!(encoded_key);
    event["Records"][0]["s3"]["configurationId"] = json!("Uploads");
    event
}

fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(300, 200, |x, _| image::Rgb([x as u8, 90, 30]));
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .expect("png");
    bytes
}

/// Keys S3 may hold though we never issue them, with their event encoding.
const ODD_KEYS: &[(&str, &str)] = &[
    ("uploads/u1/my photo.png", "uploads/u1/my+photo.png"),
    ("uploads/u1/my photo 2.png", "uploads/u1/my%20photo%202.png"),
    ("uploads/u1/사진.png", "uploads/u1/%EC%82%AC%EC%A7%84.png"),
    ("uploads/u1/a(1)!.png", "uploads/u1/a%281%29%21.png"),
];

#[tokio::test]
async fn a_file_whose_key_we_never_issue_is_refused_and_removed_not_retried() {
    // given files under uploads/ whose keys hold a space, Hangul or punctuation (put there
    // by something other than our presigned PUTs)
    let dir = tempfile::tempdir().expect("tempdir");
    let app = runcrew_tests::local_app(dir.path()).await;
    for (key, _) in ODD_KEYS {
        let path = dir.path().join("blobs").join(key);
        std::fs::create_dir_all(path.parent().expect("folder")).expect("folder");
        std::fs::write(&path, png()).expect("file");
    }
    let blobs = app.blobs().expect("blobs");
    for (key, encoded) in ODD_KEYS {
        assert!(blobs.head(key).await.expect("head").is_some(), "{key}");
        // when S3's event for it reaches the thumbnails task
        let outcome = runcrew_uploads::THUMBNAILS
            .call(
                &app,
                serde_json::from_value(created_event(encoded)).expect("an S3 event"),
            )
            .await;
        // then the task succeeds (no retry, no dead letter), the file is gone and no
        // thumbnail was made
        assert!(outcome.is_ok(), "{key}: {outcome:?}");
        assert_eq!(blobs.head(key).await.expect("head"), None, "{key}");
    }
    let thumbnails = dir.path().join("blobs").join("thumbnails");
    assert!(!thumbnails.exists(), "no thumbnail was made");
    // and a key that would climb out of its folder is refused without a retry either
    let outcome = runcrew_uploads::THUMBNAILS
        .call(
            &app,
            serde_json::from_value(created_event("uploads/..%2F..%2Fetc%2Fpasswd"))
                .expect("an S3 event"),
        )
        .await;
    assert!(outcome.is_ok(), "{outcome:?}");
}

#[tokio::test]
async fn on_s3_a_file_whose_key_we_never_issue_is_refused_and_removed() {
    // given a bucket on the S3 test server holding photos under keys we never issue
    let blobs = runcrew_tests::s3_blobs().await;
    let bucket = blobs.bucket_name().to_owned();
    for (key, _) in ODD_KEYS {
        blobs
            .client()
            .put_object()
            .bucket(&bucket)
            .key(*key)
            .content_type("image/png")
            .body(png().into())
            .send()
            .await
            .expect("put");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = runcrew_shared::store::embedded::EmbeddedStore::open(
        &dir.path().join("store.redb"),
        runcrew_tests::codec(),
    )
    .expect("store");
    let app = runcrew_shared::App::from_parts(
        runcrew_tests::config(dir.path(), &[]),
        Some(std::sync::Arc::new(store)),
        Some(std::sync::Arc::new(blobs.clone())),
        None,
    );
    for (key, encoded) in ODD_KEYS {
        // when S3's event for one reaches the thumbnails task
        let outcome = runcrew_uploads::THUMBNAILS
            .call(
                &app,
                serde_json::from_value(created_event(encoded)).expect("an S3 event"),
            )
            .await;
        // then it succeeds and the object is gone from the bucket
        assert!(outcome.is_ok(), "{key}: {outcome:?}");
        use runcrew_shared::blobs::Blobs as _;
        assert_eq!(blobs.head(key).await.expect("head"), None, "{key}");
    }
    // and nothing was written under thumbnails/
    let listed = blobs
        .client()
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("thumbnails/")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.key_count(), Some(0));
}
