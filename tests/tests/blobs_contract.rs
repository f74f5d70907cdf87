//! One contract, both Blobs adapters: the filesystem (with the local gateway accepting its
//! presigned PUTs, as S3 would) and S3 (through moto's S3 server). Test names read
//! `blobs_contract::filesystem::...` and `blobs_contract::s3_moto::...`.
//!
//! moto checks neither signatures nor expiry, so the refusal of an altered or expired
//! presigned PUT is tested on the filesystem adapter (whose signing we own), and for S3 the
//! signing itself is checked: content type and exact length are among the signed headers.

use std::time::Duration;

use runcrew_shared::blobs::{BlobError, Blobs, FileUrls};

async fn upload(url: &str, headers: &[(String, String)], body: Vec<u8>) -> reqwest::Response {
    let mut request = runcrew_tests::http().put(url).body(body);
    for (name, value) in headers {
        // reqwest sets Content-Length from the body; sending it twice would be malformed.
        if name != "content-length" {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    request.send().await.expect("PUT reaches the server")
}

mod cases {
    use super::*;

    pub async fn a_file_round_trips_with_its_content_type(blobs: &dyn Blobs) {
        // given a thumbnail stored under its key
        let png = b"\x89PNG\r\n\x1a\nnot-really".to_vec();
        blobs
            .put("thumbnails/courses/c1.png", png.clone(), "image/png")
            .await
            .expect("put");
        // then it reads back whole, with its type and size
        let blob = blobs
            .get("thumbnails/courses/c1.png")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(blob.bytes, png);
        assert_eq!(blob.meta.content_type, "image/png");
        let meta = blobs
            .head("thumbnails/courses/c1.png")
            .await
            .expect("head")
            .expect("exists");
        assert_eq!(meta.size, png.len() as u64);
        // and once deleted it is gone, and deleting again is fine
        blobs
            .delete("thumbnails/courses/c1.png")
            .await
            .expect("delete");
        assert_eq!(
            blobs.get("thumbnails/courses/c1.png").await.expect("get"),
            None
        );
        assert_eq!(
            blobs.head("thumbnails/courses/c1.png").await.expect("head"),
            None
        );
        blobs
            .delete("thumbnails/courses/c1.png")
            .await
            .expect("delete twice");
    }

    pub async fn a_folder_goes_with_everything_under_it_and_nothing_beside_it(blobs: &dyn Blobs) {
        // given two files in a user's folder (one nested) and one in a folder whose name
        // starts the same
        for key in ["media/u9/a.jpg", "media/u9/sub/b.jpg", "media/u90/c.jpg"] {
            blobs
                .put(key, b"jpeg".to_vec(), "image/jpeg")
                .await
                .expect("put");
        }
        // when the user's folder is deleted
        let deleted = blobs
            .delete_folder("media/u9")
            .await
            .expect("delete folder");
        // then both of its files are gone and the neighbour stays
        assert_eq!(deleted, 2);
        for key in ["media/u9/a.jpg", "media/u9/sub/b.jpg"] {
            assert_eq!(blobs.head(key).await.expect("head"), None, "{key}");
        }
        assert!(blobs.head("media/u90/c.jpg").await.expect("head").is_some());
        // and deleting it again finds nothing
        assert_eq!(blobs.delete_folder("media/u9").await.expect("again"), 0);
        // and a folder that could climb out of the bucket is refused
        assert!(matches!(
            blobs.delete_folder("media/..").await,
            Err(BlobError::InvalidKey(_))
        ));
    }

    pub async fn a_presigned_put_stores_exactly_the_signed_upload(blobs: &dyn Blobs) {
        // given a presigned PUT for a 5-byte JPEG
        let presigned = blobs
            .presign_put(
                // Outside uploads/: the local gateway would hand an upload to the
                // thumbnails task, which removes five bytes of text posing as a JPEG.
                "media/u1/photo.jpg",
                "image/jpeg",
                5,
                Duration::from_secs(900),
            )
            .await
            .expect("presign");
        assert_eq!(presigned.method, "PUT");
        assert!(presigned.expires_at > runcrew_tests::now() + 800);
        assert!(
            presigned
                .headers
                .iter()
                .any(|(k, v)| k == "content-type" && v == "image/jpeg"),
            "{:?}",
            presigned.headers
        );
        // when the client uploads those bytes with the given headers
        let response = upload(&presigned.url, &presigned.headers, b"hello".to_vec()).await;
        assert!(
            response.status().is_success(),
            "{}: {:?}",
            response.status(),
            response.text().await
        );
        // then the file is there with the signed type
        let meta = blobs
            .head("media/u1/photo.jpg")
            .await
            .expect("head")
            .expect("uploaded");
        assert_eq!((meta.content_type.as_str(), meta.size), ("image/jpeg", 5));
    }

    pub async fn a_presigned_get_reads_a_private_file(blobs: &dyn Blobs) -> String {
        // given a private course's route file
        let key = "private/routes/c1.geojson";
        let body = br#"{"type":"LineString","coordinates":[[126.9,37.5],[127.0,37.6]]}"#;
        blobs
            .put(key, body.to_vec(), "application/geo+json")
            .await
            .expect("put");
        // when its owner's view signs a GET for it
        let url = blobs
            .presign_get(key, Duration::from_secs(900))
            .await
            .expect("presign");
        // then whoever holds the URL reads exactly that file
        let response = runcrew_tests::http().get(&url).send().await.expect("get");
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.bytes().await.expect("body").as_ref(), body);
        url
    }

    pub async fn public_urls_point_at_the_cdn(blobs: &dyn Blobs, cdn: &str) {
        assert_eq!(
            blobs.public_url("thumbnails/courses/c1.png"),
            format!("{cdn}/thumbnails/courses/c1.png")
        );
    }

    pub async fn keys_that_escape_their_folder_are_refused(blobs: &dyn Blobs) {
        for key in ["../secrets", "uploads/../../etc", "/abs", ".meta/x.json"] {
            assert!(
                matches!(
                    blobs.put(key, vec![1], "image/png").await,
                    Err(BlobError::InvalidKey(_))
                ),
                "{key}"
            );
            assert!(
                matches!(blobs.get(key).await, Err(BlobError::InvalidKey(_))),
                "{key}"
            );
        }
    }

    pub async fn the_bucket_answers_a_ping(blobs: &dyn Blobs) {
        blobs.ping().await.expect("ping");
    }
}

mod filesystem {
    use super::*;
    use runcrew_local::Running;

    async fn gateway() -> (Running, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().display().to_string();
        let running = runcrew_local::start(move |k| match k {
            "PORT" => Some("0".into()),
            "RUNCREW_DATA_DIR" => Some(data.clone()),
            _ => None,
        })
        .await
        .expect("local gateway");
        (running, dir)
    }

    #[tokio::test]
    async fn a_file_round_trips_with_its_content_type() {
        let (running, _dir) = gateway().await;
        cases::a_file_round_trips_with_its_content_type(running.app.blobs().expect("blobs")).await;
        running.stop().await;
    }

    #[tokio::test]
    async fn a_presigned_put_stores_exactly_the_signed_upload() {
        let (running, _dir) = gateway().await;
        cases::a_presigned_put_stores_exactly_the_signed_upload(
            running.app.blobs().expect("blobs"),
        )
        .await;
        // and the CDN stand-in serves it
        let served = runcrew_tests::http()
            .get(format!("{}/_cdn/media/u1/photo.jpg", running.url()))
            .send()
            .await
            .expect("cdn");
        assert_eq!(served.status(), 200);
        assert_eq!(served.headers()["content-type"], "image/jpeg");
        assert_eq!(served.bytes().await.expect("body").as_ref(), b"hello");
        running.stop().await;
    }

    #[tokio::test]
    async fn a_folder_goes_with_everything_under_it_and_nothing_beside_it() {
        let (running, _dir) = gateway().await;
        cases::a_folder_goes_with_everything_under_it_and_nothing_beside_it(
            running.app.blobs().expect("blobs"),
        )
        .await;
        running.stop().await;
    }

    #[tokio::test]
    async fn a_presigned_get_reads_a_private_file() {
        let (running, _dir) = gateway().await;
        cases::a_presigned_get_reads_a_private_file(running.app.blobs().expect("blobs")).await;
        running.stop().await;
    }

    #[tokio::test]
    async fn the_cdn_refuses_a_private_file_without_a_valid_unexpired_signature() {
        let (running, _dir) = gateway().await;
        let blobs = running.app.blobs().expect("blobs");
        let url = cases::a_presigned_get_reads_a_private_file(blobs).await;
        let status = |address: String| async move {
            runcrew_tests::http()
                .get(address)
                .send()
                .await
                .expect("cdn")
                .status()
                .as_u16()
        };
        // the bare CDN address of a private file
        let bare = format!("{}/_cdn/private/routes/c1.geojson", running.url());
        assert_eq!(status(bare).await, 403);
        // the signature of one file on another
        blobs
            .put(
                "private/routes/c2.geojson",
                b"{}".to_vec(),
                "application/geo+json",
            )
            .await
            .expect("put");
        assert_eq!(status(url.replace("c1.geojson", "c2.geojson")).await, 403);
        // an edited expiry
        let (base, query) = url.split_once('?').expect("query");
        let edited: String = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| {
                if k == "expires" {
                    format!("expires={}", v.parse::<i64>().expect("epoch") + 3600)
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(status(format!("{base}?{edited}")).await, 403);
        // an expired URL
        let expired = blobs
            .presign_get("private/routes/c1.geojson", Duration::from_secs(0))
            .await
            .expect("presign");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(status(expired).await, 403);
        // while a public file needs no signature
        blobs
            .put("thumbnails/courses/c1.png", b"png".to_vec(), "image/png")
            .await
            .expect("put");
        assert_eq!(
            status(format!("{}/_cdn/thumbnails/courses/c1.png", running.url())).await,
            200
        );
        running.stop().await;
    }

    #[tokio::test]
    async fn public_urls_point_at_the_cdn() {
        let (running, _dir) = gateway().await;
        let cdn = format!("{}/_cdn", running.url());
        cases::public_urls_point_at_the_cdn(running.app.blobs().expect("blobs"), &cdn).await;
        running.stop().await;
    }

    #[tokio::test]
    async fn keys_that_escape_their_folder_are_refused() {
        let (running, _dir) = gateway().await;
        cases::keys_that_escape_their_folder_are_refused(running.app.blobs().expect("blobs")).await;
        running.stop().await;
    }

    #[tokio::test]
    async fn the_bucket_answers_a_ping() {
        let (running, _dir) = gateway().await;
        cases::the_bucket_answers_a_ping(running.app.blobs().expect("blobs")).await;
        running.stop().await;
    }

    #[tokio::test]
    async fn an_altered_or_expired_presigned_put_is_refused_like_s3_refuses_it() {
        let (running, _dir) = gateway().await;
        let blobs = running.app.blobs().expect("blobs");
        let key = "uploads/u1/avatar.png";
        let presigned = blobs
            .presign_put(key, "image/png", 4, Duration::from_secs(900))
            .await
            .expect("presign");
        let headers = &presigned.headers;
        // another content type than the signed one
        let wrong_type: Vec<(String, String)> = vec![
            ("content-type".into(), "text/html".into()),
            ("content-length".into(), "4".into()),
        ];
        assert_eq!(
            upload(&presigned.url, &wrong_type, b"abcd".to_vec())
                .await
                .status(),
            403
        );
        // another length than the signed one
        assert_eq!(
            upload(&presigned.url, headers, b"abcdefgh".to_vec())
                .await
                .status(),
            403
        );
        // a URL whose signed values were edited
        let edited = presigned
            .url
            .replace("content_length=4", "content_length=8");
        assert_eq!(
            upload(&edited, headers, b"abcdefgh".to_vec())
                .await
                .status(),
            403
        );
        // another key with the same signature
        let moved = presigned.url.replace("avatar.png", "other.png");
        assert_eq!(
            upload(&moved, headers, b"abcd".to_vec()).await.status(),
            403
        );
        // an expired URL
        let expired = blobs
            .presign_put(key, "image/png", 4, Duration::from_secs(0))
            .await
            .expect("presign");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            upload(&expired.url, &expired.headers, b"abcd".to_vec())
                .await
                .status(),
            403
        );
        // nothing was stored by any of them; the genuine upload still works
        assert_eq!(blobs.head(key).await.expect("head"), None);
        assert_eq!(
            blobs.head("uploads/u1/other.png").await.expect("head"),
            None
        );
        assert!(
            upload(&presigned.url, headers, b"abcd".to_vec())
                .await
                .status()
                .is_success()
        );
        running.stop().await;
    }
}

mod s3_moto {
    use super::*;

    #[tokio::test]
    async fn a_file_round_trips_with_its_content_type() {
        cases::a_file_round_trips_with_its_content_type(&runcrew_tests::s3_blobs().await).await;
    }

    #[tokio::test]
    async fn a_presigned_put_stores_exactly_the_signed_upload() {
        cases::a_presigned_put_stores_exactly_the_signed_upload(&runcrew_tests::s3_blobs().await)
            .await;
    }

    #[tokio::test]
    async fn a_folder_goes_with_everything_under_it_and_nothing_beside_it() {
        cases::a_folder_goes_with_everything_under_it_and_nothing_beside_it(
            &runcrew_tests::s3_blobs().await,
        )
        .await;
    }

    #[tokio::test]
    async fn public_urls_point_at_the_cdn() {
        cases::public_urls_point_at_the_cdn(&runcrew_tests::s3_blobs().await, "https://cdn.test")
            .await;
    }

    #[tokio::test]
    async fn a_presigned_get_reads_a_private_file() {
        let url =
            cases::a_presigned_get_reads_a_private_file(&runcrew_tests::s3_blobs().await).await;
        // and the URL is S3's own, signed, and short-lived
        let url = url::Url::parse(&url).expect("url");
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(query["X-Amz-Expires"], "900");
        assert!(query.contains_key("X-Amz-Signature"));
        assert!(url.path().ends_with("/private/routes/c1.geojson"), "{url}");
    }

    #[tokio::test]
    async fn keys_that_escape_their_folder_are_refused() {
        cases::keys_that_escape_their_folder_are_refused(&runcrew_tests::s3_blobs().await).await;
    }

    #[tokio::test]
    async fn the_bucket_answers_a_ping() {
        cases::the_bucket_answers_a_ping(&runcrew_tests::s3_blobs().await).await;
    }

    #[tokio::test]
    async fn a_presigned_put_signs_the_content_type_the_exact_length_and_the_expiry() {
        let blobs = runcrew_tests::s3_blobs().await;
        let presigned = blobs
            .presign_put(
                "uploads/u1/photo.webp",
                "image/webp",
                1234,
                Duration::from_secs(900),
            )
            .await
            .expect("presign");
        let url = url::Url::parse(&presigned.url).expect("url");
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        let signed: Vec<&str> = query["X-Amz-SignedHeaders"].split(';').collect();
        assert!(signed.contains(&"content-type"), "{signed:?}");
        assert!(signed.contains(&"content-length"), "{signed:?}");
        assert_eq!(query["X-Amz-Expires"], "900");
        assert!(query.contains_key("X-Amz-Signature"));
        assert!(
            presigned
                .headers
                .contains(&("content-length".to_owned(), "1234".to_owned())),
            "{:?}",
            presigned.headers
        );
    }

    #[tokio::test]
    async fn an_unreachable_bucket_is_unavailable_not_missing() {
        let blobs = runcrew_shared::blobs::s3::S3Blobs::from_sdk_config(
            &runcrew_tests::sdk_config(),
            Some("http://127.0.0.1:9"),
            "nowhere",
            "https://cdn.test",
        );
        assert!(matches!(
            blobs.get("uploads/x.png").await,
            Err(BlobError::Unavailable(_))
        ));
        assert!(matches!(blobs.ping().await, Err(BlobError::Unavailable(_))));
    }
}
