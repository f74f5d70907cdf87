//! One contract, both TokenCipher adapters: the laptop's AES-256-GCM key and KMS (through
//! moto's server, which serves KMS on the same endpoint as S3). Test names read
//! `cipher_contract::local::...` and `cipher_contract::kms_moto::...`; `cipher_contract::app`
//! checks how the port is wired.
//!
//! moto binds the encryption context as real KMS does (it is the AEAD's associated data
//! there too), so a value moved to another context is refused on both. Where moto answers
//! with another code than KMS (a ciphertext of another key: moto says
//! AccessDeniedException, KMS IncorrectKeyException), the test asserts what both enforce:
//! the value does not open.

use runcrew_shared::cipher::{CipherError, MAX_PLAINTEXT_BYTES, TokenCipher};

const TOKEN: &str = "strava-refresh-7f3c2a9be4d1";
const ALICE: &str = "strava-refresh-token:u-alice";
const BOB: &str = "strava-refresh-token:u-bob";

mod cases {
    use super::*;

    pub async fn a_sealed_token_opens_for_its_context_and_shows_nothing(
        cipher: &dyn TokenCipher,
        prefix: &str,
    ) {
        let sealed = cipher.seal(TOKEN, ALICE).await.expect("seal");
        assert!(sealed.starts_with(prefix), "{sealed}");
        assert!(!sealed.contains(TOKEN), "{sealed}");
        assert!(
            sealed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "stored as it is: {sealed}"
        );
        let opened = cipher.open(&sealed, ALICE).await.expect("open");
        assert_eq!(opened.expose(), TOKEN);
        assert_eq!(format!("{opened:?}"), "***");
    }

    pub async fn a_token_moved_to_another_user_does_not_open(cipher: &dyn TokenCipher) {
        let sealed = cipher.seal(TOKEN, ALICE).await.expect("seal");
        assert_eq!(cipher.open(&sealed, BOB).await, Err(CipherError::Tampered));
        assert_eq!(cipher.open(&sealed, "").await.ok(), None);
    }

    pub async fn an_altered_byte_is_tampering(cipher: &dyn TokenCipher) {
        let sealed = cipher.seal(TOKEN, ALICE).await.expect("seal");
        // One base64url digit near the end: six whole bits of the ciphertext's last bytes
        // (the very last digit may carry padding bits, which the decoder refuses instead).
        let mut altered = sealed.into_bytes();
        let at = altered.len() - 5;
        altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("base64url is ASCII");
        assert_eq!(
            cipher.open(&altered, ALICE).await,
            Err(CipherError::Tampered)
        );
    }

    /// What opening a value of `theirs` (another key, same adapter) gives `ours`.
    pub async fn a_token_of_another_key(
        ours: &dyn TokenCipher,
        theirs: &dyn TokenCipher,
    ) -> CipherError {
        let sealed = theirs.seal(TOKEN, ALICE).await.expect("seal");
        assert_eq!(
            theirs
                .open(&sealed, ALICE)
                .await
                .expect("theirs opens")
                .expose(),
            TOKEN
        );
        ours.open(&sealed, ALICE)
            .await
            .expect_err("another key's value must not open")
    }

    pub async fn two_seals_of_one_token_differ(cipher: &dyn TokenCipher) {
        let a = cipher.seal(TOKEN, ALICE).await.expect("seal");
        let b = cipher.seal(TOKEN, ALICE).await.expect("seal");
        assert_ne!(a, b, "equal tokens cannot be matched in the table");
        for sealed in [a, b] {
            assert_eq!(
                cipher.open(&sealed, ALICE).await.expect("open").expose(),
                TOKEN
            );
        }
    }

    pub async fn text_that_is_not_a_sealed_value_is_malformed(
        cipher: &dyn TokenCipher,
        prefix: &str,
        other_adapters_value: &str,
    ) {
        for text in [
            TOKEN,
            "",
            other_adapters_value,
            prefix,
            &format!("{prefix}not*base64"),
        ] {
            assert!(
                matches!(
                    cipher.open(text, ALICE).await,
                    Err(CipherError::Malformed(_))
                ),
                "{text:?}"
            );
        }
    }

    pub async fn what_kms_would_refuse_is_refused_everywhere(cipher: &dyn TokenCipher) {
        let longest = "t".repeat(MAX_PLAINTEXT_BYTES);
        let sealed = cipher.seal(&longest, ALICE).await.expect("4096 bytes seal");
        assert_eq!(
            cipher.open(&sealed, ALICE).await.expect("open").expose(),
            longest
        );
        for (plaintext, context) in [("", ALICE), (TOKEN, ""), (&*format!("{longest}t"), ALICE)] {
            assert!(
                matches!(
                    cipher.seal(plaintext, context).await,
                    Err(CipherError::Invalid(_))
                ),
                "{} bytes for {context:?}",
                plaintext.len()
            );
        }
    }
}

mod local {
    use super::*;
    use runcrew_shared::cipher::local::LocalCipher;

    fn cipher() -> LocalCipher {
        LocalCipher::new([0x5a; 32])
    }

    #[tokio::test]
    async fn a_sealed_token_opens_for_its_context_and_shows_nothing() {
        cases::a_sealed_token_opens_for_its_context_and_shows_nothing(&cipher(), "v1.local.").await;
    }

    #[tokio::test]
    async fn a_token_moved_to_another_user_does_not_open() {
        cases::a_token_moved_to_another_user_does_not_open(&cipher()).await;
    }

    #[tokio::test]
    async fn an_altered_byte_is_tampering() {
        cases::an_altered_byte_is_tampering(&cipher()).await;
    }

    #[tokio::test]
    async fn a_token_of_another_key_is_tampering() {
        let theirs = LocalCipher::new([0xa5; 32]);
        assert_eq!(
            cases::a_token_of_another_key(&cipher(), &theirs).await,
            CipherError::Tampered
        );
    }

    #[tokio::test]
    async fn two_seals_of_one_token_differ() {
        cases::two_seals_of_one_token_differ(&cipher()).await;
    }

    #[tokio::test]
    async fn text_that_is_not_a_sealed_value_is_malformed() {
        cases::text_that_is_not_a_sealed_value_is_malformed(
            &cipher(),
            "v1.local.",
            "v1.kms.AQIDBAUGBwg",
        )
        .await;
    }

    #[tokio::test]
    async fn what_kms_would_refuse_is_refused_everywhere() {
        cases::what_kms_would_refuse_is_refused_everywhere(&cipher()).await;
    }
}

mod kms_moto {
    use super::*;
    use runcrew_shared::cipher::kms::KmsCipher;

    /// A cipher on the test server sealing under `key_id`; its client sets keys up.
    fn at_test_server(key_id: &str) -> KmsCipher {
        KmsCipher::from_sdk_config(
            &runcrew_tests::sdk_config(),
            Some(&runcrew_tests::s3_endpoint()),
            key_id.to_owned(),
        )
    }

    /// A fresh symmetric key on the test server (KMS's default key spec), and a cipher
    /// sealing under it.
    async fn cipher() -> KmsCipher {
        let created = at_test_server("")
            .client()
            .create_key()
            .description("runcrew token cipher contract")
            .send()
            .await
            .expect("create a KMS key on the test server");
        let key_id = created
            .key_metadata()
            .map(|m| m.key_id().to_owned())
            .expect("the new key's id");
        at_test_server(&key_id)
    }

    #[tokio::test]
    async fn a_sealed_token_opens_for_its_context_and_shows_nothing() {
        cases::a_sealed_token_opens_for_its_context_and_shows_nothing(&cipher().await, "v1.kms.")
            .await;
    }

    #[tokio::test]
    async fn a_token_moved_to_another_user_does_not_open() {
        cases::a_token_moved_to_another_user_does_not_open(&cipher().await).await;
    }

    #[tokio::test]
    async fn an_altered_byte_is_tampering() {
        cases::an_altered_byte_is_tampering(&cipher().await).await;
    }

    #[tokio::test]
    async fn a_token_of_another_key_does_not_open() {
        // KMS answers IncorrectKeyException (Tampered) because Decrypt names our key; moto
        // answers AccessDeniedException for the same request (Refused). Both refuse it.
        let err = cases::a_token_of_another_key(&cipher().await, &cipher().await).await;
        assert!(
            matches!(err, CipherError::Tampered | CipherError::Refused(_)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn two_seals_of_one_token_differ() {
        cases::two_seals_of_one_token_differ(&cipher().await).await;
    }

    #[tokio::test]
    async fn text_that_is_not_a_sealed_value_is_malformed() {
        cases::text_that_is_not_a_sealed_value_is_malformed(
            &cipher().await,
            "v1.kms.",
            "v1.local.AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRob",
        )
        .await;
    }

    #[tokio::test]
    async fn what_kms_would_refuse_is_refused_everywhere() {
        cases::what_kms_would_refuse_is_refused_everywhere(&cipher().await).await;
    }

    #[tokio::test]
    async fn a_key_named_by_its_alias_seals_and_opens() {
        let key = cipher().await;
        let alias = format!("alias/runcrew-tokens-{}", uuid::Uuid::new_v4().simple());
        key.client()
            .create_alias()
            .alias_name(&alias)
            .target_key_id(key.key_id())
            .send()
            .await
            .expect("create alias");
        let by_alias = at_test_server(&alias);
        let sealed = by_alias.seal(TOKEN, ALICE).await.expect("seal");
        assert_eq!(
            by_alias.open(&sealed, ALICE).await.expect("open").expose(),
            TOKEN
        );
        assert_eq!(
            key.open(&sealed, ALICE)
                .await
                .expect("the key itself opens it")
                .expose(),
            TOKEN
        );
    }

    #[tokio::test]
    async fn a_key_that_does_not_exist_is_refused_not_retried() {
        let missing = at_test_server("alias/runcrew-no-such-key");
        let err = missing.seal(TOKEN, ALICE).await.expect_err("no key");
        assert!(matches!(err, CipherError::Refused(_)), "{err:?}");
        assert!(!err.to_string().contains(TOKEN), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_key_service_is_unavailable() {
        let down = KmsCipher::from_sdk_config(
            &runcrew_tests::sdk_config(),
            Some("http://127.0.0.1:9"),
            "alias/runcrew-tokens".into(),
        );
        let err = down.seal(TOKEN, ALICE).await.expect_err("nobody listens");
        assert!(matches!(err, CipherError::Unavailable(_)), "{err:?}");
        assert!(!err.to_string().contains(TOKEN), "{err}");
        assert!(matches!(
            down.open("v1.kms.AQIDBAUGBwg", ALICE).await,
            Err(CipherError::Unavailable(_))
        ));
        let status = runcrew_shared::ApiError::from(err).status().as_u16();
        assert_eq!(status, 503);
    }
}

mod app {
    use super::*;
    use runcrew_shared::{App, Needs};

    const PRODUCTION: &[(&str, &str)] = &[
        ("ENVIRONMENT", "production"),
        ("PUBLIC_BASE_URL", "https://api.runcrew.app"),
        ("SIGNING_KEY_SECRET_ID", "runcrew/prod/token-keys"),
        ("CURSOR_SECRET_ID", "runcrew/prod/cursor"),
    ];

    #[tokio::test]
    async fn a_laptop_seals_with_a_key_that_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = App::build(
            runcrew_tests::config(dir.path(), &[]),
            Needs::NOTHING.cipher(),
        )
        .await
        .expect("local app");
        let sealed = first
            .cipher()
            .expect("wired")
            .seal(TOKEN, ALICE)
            .await
            .expect("seal");
        assert!(sealed.starts_with("v1.local."), "{sealed}");
        // the same data folder, a new process: the key is derived from the same secret
        let again = App::build(
            runcrew_tests::config(dir.path(), &[]),
            Needs::NOTHING.cipher(),
        )
        .await
        .expect("local app");
        let opened = again
            .cipher()
            .expect("wired")
            .open(&sealed, ALICE)
            .await
            .expect("open");
        assert_eq!(opened.expose(), TOKEN);
    }

    #[tokio::test]
    async fn a_function_that_did_not_ask_for_the_cipher_gets_a_500() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = App::build(runcrew_tests::config(dir.path(), &[]), Needs::NOTHING)
            .await
            .expect("local app");
        let err = app.cipher().err().expect("not wired");
        assert_eq!(err.status().as_u16(), 500);
    }

    #[tokio::test]
    async fn production_refuses_to_start_a_function_that_seals_without_a_kms_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = runcrew_tests::config(dir.path(), PRODUCTION);
        let err = App::build(config.clone(), Needs::NOTHING.cipher())
            .await
            .expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("TOKEN_KMS_KEY_ID is missing"), "{text}");
        // a function that seals nothing starts as before
        App::build(config, Needs::NOTHING)
            .await
            .expect("no cipher, no key needed");
    }

    #[tokio::test]
    async fn production_refuses_a_kms_endpoint_override() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut pairs = PRODUCTION.to_vec();
        pairs.extend([
            ("TOKEN_KMS_KEY_ID", "alias/runcrew-tokens"),
            ("KMS_ENDPOINT", "http://127.0.0.1:9"),
        ]);
        let err = App::build(
            runcrew_tests::config(dir.path(), &pairs),
            Needs::NOTHING.cipher(),
        )
        .await
        .expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("KMS_ENDPOINT overrides"), "{text}");
    }

    #[tokio::test]
    async fn tests_can_hand_an_app_their_own_cipher() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = App::build(runcrew_tests::config(dir.path(), &[]), Needs::NOTHING)
            .await
            .expect("local app")
            .with_cipher(std::sync::Arc::new(
                runcrew_shared::cipher::local::LocalCipher::new([1; 32]),
            ));
        let cipher = app.cipher().expect("wired");
        let sealed = cipher.seal(TOKEN, BOB).await.expect("seal");
        assert_eq!(
            cipher.open(&sealed, BOB).await.expect("open").expose(),
            TOKEN
        );
    }
}
