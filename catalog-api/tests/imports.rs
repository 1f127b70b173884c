//! `/api/v1/imports` and `/api/v1/exports`: files in, files out, a result for every line.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{StatusCode, header};
use actix_web::test::TestRequest;
use catalog_api::imports;
use common::{Reply, TestApp, User};
use serde_json::{Value, json};
use uuid::Uuid;

async fn upload(app: &TestApp, user: &User, content_type: &str, file: impl Into<Vec<u8>>) -> Reply {
    let req = TestRequest::post()
        .uri("/api/v1/imports")
        .insert_header((header::AUTHORIZATION, format!("Bearer {}", user.token)))
        .insert_header((header::CONTENT_TYPE, content_type))
        .set_payload(file.into());
    app.call(req.to_request()).await
}

async fn upload_with_key(app: &TestApp, user: &User, key: &str, file: &str) -> Reply {
    let req = TestRequest::post()
        .uri("/api/v1/imports")
        .insert_header((header::AUTHORIZATION, format!("Bearer {}", user.token)))
        .insert_header((header::CONTENT_TYPE, "text/csv"))
        .insert_header(("Idempotency-Key", key))
        .set_payload(file.to_string());
    app.call(req.to_request()).await
}

/// What the API's background runner does: claim jobs and apply them batch by batch.
async fn run_jobs(app: &TestApp) {
    let conn = &mut *app.db.conn().await;
    while let Some(job) = imports::claim(conn).await.expect("claim") {
        while !imports::process_batch(conn, job).await.expect("batch").done {}
    }
}

async fn import(app: &TestApp, user: &User, content_type: &str, file: impl Into<Vec<u8>>) -> Value {
    let queued = upload(app, user, content_type, file).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{:?}", queued.body);
    assert_eq!(queued.data()["status"], "queued");
    run_jobs(app).await;
    let job = app.get(user, &format!("/api/v1/imports/{}", queued.id())).await;
    assert_eq!(job.data()["status"], "completed", "{:?}", job.body);
    job.data().clone()
}

fn actions(job: &Value) -> Vec<&str> {
    job["results"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect()
}

async fn export(app: &TestApp, user: &User, format: &str) -> Vec<u8> {
    let (status, body) = app.call_bytes(get_as(user, &format!("/api/v1/exports?format={format}"))).await;
    assert_eq!(status, StatusCode::OK);
    body
}

fn get_as(user: &User, path: &str) -> actix_http::Request {
    TestRequest::get().uri(path).insert_header((header::AUTHORIZATION, format!("Bearer {}", user.token))).to_request()
}

#[actix_web::test]
async fn a_spreadsheet_csv_with_bom_semicolons_quotes_newlines_and_aliases_imports_correctly() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let file = "\u{feff}SKU;Nombre;Descripción;Variant SKU;Precio;Código de barras\r\n\
                CAM-1;\"Camisa; manga larga\";\"Algodón\r\npeinado, \"\"premium\"\"\";CAM-1-S;19,90;\r\n\
                CAM-1;\"Camisa; manga larga\";\"Algodón\r\npeinado, \"\"premium\"\"\";CAM-1-M;21.50;7800000000017\r\n\
                TAZA;Taza;;;5.00;7800000000024\r\n";
    let job = import(&app, &admin, "text/csv", file).await;
    assert_eq!((job["total_rows"].as_i64(), job["failed"].as_i64()), (Some(3), Some(2)), "{job}");
    // "19,90" is not a decimal the API takes: that line fails alone, naming the field; its
    // product is then one variant short of the file, so the whole product is reported failed.
    let results = job["results"].as_array().unwrap();
    assert_eq!(actions(&job), ["failed", "failed", "created"], "{job}");
    assert!(results[0]["errors"].to_string().contains("variants[0].sale_price"), "{}", results[0]);
    assert_eq!(results[1]["errors"][0]["field"], "product_sku", "{}", results[1]);

    let fixed = "\u{feff}SKU;Nombre;Descripción;Variant SKU;Precio;Código de barras\r\n\
                 CAM-1;\"Camisa; manga larga\";\"Algodón\r\npeinado, \"\"premium\"\"\";CAM-1-S;19.90;\r\n\
                 CAM-1;\"Camisa; manga larga\";\"Algodón\r\npeinado, \"\"premium\"\"\";CAM-1-M;21.50;7800000000017\r\n\
                 TAZA;Taza;;;5.00;7800000000024\r\n";
    let job = import(&app, &admin, "text/csv", fixed).await;
    assert_eq!(actions(&job), ["created", "created", "unchanged"], "{job}");
    let camisa =
        app.get(&admin, &format!("/api/v1/products/{}", job["results"][0]["product_id"].as_str().unwrap())).await;
    let product = camisa.data();
    assert_eq!(product["title"], "Camisa; manga larga");
    assert_eq!(product["description"], "Algodón\r\npeinado, \"premium\"");
    let variants = camisa.data()["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(
        (&variants[1]["sku"], &variants[1]["sale_price"], &variants[1]["barcode"]),
        (&json!("CAM-1-M"), &json!("21.50"), &json!("7800000000017"))
    );
    assert_eq!(job["results"][1]["variant_id"], variants[1]["id"]);
    let taza =
        app.get(&admin, &format!("/api/v1/products/{}", job["results"][2]["product_id"].as_str().unwrap())).await;
    assert_eq!(taza.data()["has_variants"], false);
    assert_eq!(taza.data()["variants"][0]["barcode"], "7800000000024");
}

#[actix_web::test]
async fn an_export_imported_back_changes_nothing_in_either_format() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let tag = app.post(&admin, "/api/v1/tags", json!({ "name": "oferta" })).await.id();
    let collection = app.post(&admin, "/api/v1/collections", json!({ "name": "Verano" })).await.id();
    let bulk = json!({ "products": [
        { "title": "Camisa, \"lino\"", "sku": "CAM", "has_variants": true, "tag_ids": [tag], "collection_ids": [collection], "metadata": { "origen": "PE" },
          "description": "línea 1\nlínea 2", "options": ["Talla", "Color"],
          "images": [{ "url": "https://img.example/cam-1.jpg", "alt": "Camisa, frente" }, "https://img.example/cam-2.jpg"],
          "variants": [
              { "sku": "CAM-S", "sale_price": "10.00", "cost_price": "4.10", "weight": "0.250", "attributes": { "Talla": "S", "Color": "Azul" },
                "images": ["https://img.example/cam-s-1.jpg", "https://img.example/cam-s-2.jpg"] },
              { "sku": "CAM-M", "sale_price": "11.00", "is_active": false, "default_min_stock": 3, "attributes": { "Talla": "M", "Color": "Azul" } } ] },
        { "title": "Vela", "sku": "VELA", "has_variants": true, "variants": [{ "sku": "VELA-1", "sale_price": "2.00", "attributes": { "aroma": "pino" } }] },
        { "title": "Taza", "sku": "TAZA", "sale_price": "5.00", "barcode": "7800000000017", "status": "inactive",
          "images": ["https://img.example/taza.jpg", { "url": "https://img.example/taza-2.jpg", "is_primary": true }] },
    ] });
    assert_eq!(app.post(&admin, "/api/v1/products/bulk", bulk).await.status, StatusCode::OK);
    let events = app.events(admin.org).await.len();

    let csv = export(&app, &admin, "csv").await;
    let text = String::from_utf8(csv.clone()).unwrap();
    assert_eq!(text.lines().next().unwrap().split(',').next(), Some("product_sku"));
    assert!(text.contains(&tag) && text.contains(&collection), "links exported: {text}");
    let job = import(&app, &admin, "text/csv", csv).await;
    assert_eq!(actions(&job), ["unchanged"; 4], "{job}\n{text}");

    let jsonl = export(&app, &admin, "jsonl").await;
    assert_eq!(String::from_utf8(jsonl.clone()).unwrap().lines().count(), 3);
    let job = import(&app, &admin, "application/x-ndjson", jsonl).await;
    assert_eq!(actions(&job), ["unchanged"; 3], "{job}");
    assert_eq!(app.events(admin.org).await.len(), events, "a round trip publishes nothing");
}

#[actix_web::test]
async fn a_mixed_file_reports_every_line_and_offers_the_failed_ones_back() {
    let app = TestApp::start().await;
    let admin = User::admin();
    import(&app, &admin, "text/csv", "sku,title,price\nA,Alfa,1.00\nB,Beta,2.00\n").await;
    let job =
        import(&app, &admin, "text/csv", "sku,title,price\nA,Alfa,1.00\nB,Beta nueva,2.00\nC,,3.00\nD,Delta,4.00\n")
            .await;
    assert_eq!(actions(&job), ["unchanged", "updated", "failed", "created"], "{job}");
    assert_eq!(
        (job["created"].as_i64(), job["updated"].as_i64(), job["unchanged"].as_i64(), job["failed"].as_i64()),
        (Some(1), Some(1), Some(1), Some(1))
    );
    assert_eq!(job["results"][2]["errors"][0]["field"], "title");

    let (_, body) =
        app.call_bytes(get_as(&admin, &format!("/api/v1/imports/{}/failed-rows", job["id"].as_str().unwrap()))).await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(body, "sku,title,price,errors\nC,,3.00,\"title: is required\"\n");

    // JSON Lines: an unparseable line fails alone.
    let job =
        import(&app, &admin, "application/x-ndjson", "{\"title\":\"Eco\",\"sku\":\"E\",\"sale_price\":\"1\"}\n{oops\n")
            .await;
    assert_eq!(actions(&job), ["created", "failed"]);

    // Another organization sees no such job.
    let stranger = User::admin();
    assert_eq!(
        app.get(&stranger, &format!("/api/v1/imports/{}", job["id"].as_str().unwrap())).await.status,
        StatusCode::NOT_FOUND
    );
    let bad = upload(&app, &admin, "text/plain", "x").await;
    assert_eq!((bad.status, bad.fields()), (StatusCode::BAD_REQUEST, vec!["format".to_string()]));
    // A file no line can be read from is a job that failed at once, saying why.
    let no_sku = upload(&app, &admin, "text/csv", "title,price\nA,1\n").await;
    assert_eq!((no_sku.status, &no_sku.data()["status"]), (StatusCode::ACCEPTED, &json!("failed")), "{no_sku:?}");
    assert!(no_sku.data()["error"].as_str().is_some_and(|e| e.contains("no SKU column")), "{no_sku:?}");
    let conn = &mut *app.db.conn().await;
    assert_eq!(imports::claim(conn).await.unwrap(), None, "nothing left to run");
    // `application/octet-stream` without `?format`: the contents tell.
    for (file, format) in
        [("\u{feff} {\"sku\":\"OC-1\",\"title\":\"Uno\"}\n", "jsonl"), ("sku,title\nOC-2,Dos\n", "csv")]
    {
        let r = upload(&app, &admin, "application/octet-stream", file).await;
        assert_eq!((r.status, &r.data()["format"]), (StatusCode::ACCEPTED, &json!(format)), "{r:?}");
    }
}

#[actix_web::test]
async fn a_job_interrupted_midway_resumes_from_its_last_batch_and_reports_every_line_once() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let lines = imports::PROCESS_BATCH as usize + 500;
    let mut file = String::from("sku,title,price\n");
    for n in 0..lines {
        file.push_str(&format!("P{n:05},Producto {n},{}.00\n", 1 + n % 50));
    }
    let queued = upload(&app, &admin, "text/csv", file).await;
    let id: Uuid = queued.id().parse().unwrap();
    let conn = &mut *app.db.conn().await;
    assert_eq!(imports::claim(conn).await.unwrap(), Some(id));
    assert!(!imports::process_batch(conn, id).await.unwrap().done);
    // The replica dies here: no one renews the lease; once it lapses another replica claims it.
    assert_eq!(imports::claim(conn).await.unwrap(), None, "a live lease is not taken over");
    use diesel_async::RunQueryDsl;
    diesel::sql_query("UPDATE import_jobs SET lease_until = now() - interval '1 second'").execute(conn).await.unwrap();
    assert_eq!(imports::claim(conn).await.unwrap(), Some(id));
    while !imports::process_batch(conn, id).await.unwrap().done {}

    let job = app.get(&admin, &format!("/api/v1/imports/{id}")).await;
    let data = job.data();
    assert_eq!(
        (data["status"].as_str(), data["processed_rows"].as_u64(), data["created"].as_u64()),
        (Some("completed"), Some(lines as u64), Some(lines as u64))
    );
    let page2 = app.get(&admin, &format!("/api/v1/imports/{id}?after_line=1000")).await;
    let seen: Vec<i64> = data["results"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2.data()["results"].as_array().unwrap())
        .map(|r| r["line"].as_i64().unwrap())
        .collect();
    assert_eq!(seen.len(), 2000, "two pages of 1,000");
    assert_eq!(seen, (1..=2000).collect::<Vec<_>>());
    let created = app.events(admin.org).await.iter().filter(|e| *e == "catalog.product.created").count();
    assert_eq!(created, lines, "every product created once, none twice");
}

#[actix_web::test]
async fn organizations_take_turns_batch_by_batch_so_a_large_file_holds_up_no_one() {
    let app = TestApp::start().await;
    let (big, small) = (User::admin(), User::admin());
    let lines = imports::PROCESS_BATCH as usize * 2 + 10;
    let mut file = String::from("sku,title,price\n");
    for n in 0..lines {
        file.push_str(&format!("B{n:05},Grande {n},1.00\n"));
    }
    let large: Uuid = upload(&app, &big, "text/csv", file).await.id().parse().unwrap();
    let conn = &mut *app.db.conn().await;
    assert_eq!(imports::claim(conn).await.unwrap(), Some(large));
    assert!(!imports::process_batch(conn, large).await.unwrap().done);
    assert!(!imports::yield_to_others(conn, large).await.unwrap(), "no one waits: the large job keeps its turn");

    let quick: Uuid =
        upload(&app, &small, "text/csv", "sku,title,price\nS1,Pequeño,2.00\n").await.id().parse().unwrap();
    assert!(!imports::process_batch(conn, large).await.unwrap().done);
    assert!(imports::yield_to_others(conn, large).await.unwrap(), "another organization waits");
    assert_eq!(imports::claim(conn).await.unwrap(), Some(quick), "the waiting job goes first");
    assert!(imports::process_batch(conn, quick).await.unwrap().done);
    assert_eq!(imports::claim(conn).await.unwrap(), Some(large), "then the large one resumes");
    assert!(imports::process_batch(conn, large).await.unwrap().done);

    let job = app.get(&big, &format!("/api/v1/imports/{large}")).await;
    assert_eq!(
        (job.data()["created"].as_u64(), job.data()["status"].as_str()),
        (Some(lines as u64), Some("completed"))
    );
    let job = app.get(&small, &format!("/api/v1/imports/{quick}")).await;
    assert_eq!(job.data()["status"], "completed");
}

#[actix_web::test]
async fn a_retried_upload_with_its_key_gets_the_same_job_and_another_file_is_refused() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let file = "sku,title,price\nK1,Uno,1.00\n";
    let first = upload_with_key(&app, &admin, "upload-1", file).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    let retry = upload_with_key(&app, &admin, "upload-1", file).await;
    assert_eq!((retry.status, retry.id()), (StatusCode::ACCEPTED, first.id()), "the same job");
    let other = upload_with_key(&app, &admin, "upload-1", "sku,title,price\nK2,Dos,2.00\n").await;
    assert_eq!((other.status, other.code()), (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED"));
    let conn = &mut *app.db.conn().await;
    assert_eq!(imports::claim(conn).await.unwrap().map(|id| id.to_string()), Some(first.id()));
    assert_eq!(imports::claim(conn).await.unwrap(), None, "one job staged, not two");
}

#[actix_web::test]
async fn a_sku_taken_by_a_concurrent_write_is_retried_and_the_batch_still_commits() {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let app = TestApp::start().await;
    let admin = User::admin();
    let file = "sku,title,price\nA1,Uno,1.00\nRACE,Carrera,2.00\nB1,Dos,3.00\nC1,Tres,4.00\n";
    let id: Uuid = upload(&app, &admin, "text/csv", file).await.id().parse().unwrap();
    let (mut writer, mut runner) = (app.db.conn().await, app.db.conn().await);
    assert_eq!(imports::claim(&mut runner).await.unwrap(), Some(id));

    // Another writer inserts RACE and commits only after the batch has read (and not seen it):
    // the batch's insert waits on the unique index, then fails on it.
    let org = admin.org;
    let concurrent = writer.transaction(async move |conn| {
        diesel::sql_query(
            "INSERT INTO products (id, organization_id, title, slug, sku) VALUES (gen_random_uuid(), $1, 'Otro', 'otro', 'RACE')",
        )
        .bind::<diesel::sql_types::Uuid, _>(org)
        .execute(conn)
        .await?;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        Ok::<_, diesel::result::Error>(())
    });
    let batch = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        imports::process_batch(&mut runner, id).await
    };
    let (written, batch) = tokio::join!(concurrent, batch);
    written.unwrap();
    assert!(batch.unwrap().done);

    // Without the retry the whole batch (and the job) would have failed on the unique index; the
    // retry reads again, finds the product the other writer committed, and updates it.
    let job = app.get(&admin, &format!("/api/v1/imports/{id}")).await;
    let data = job.data();
    assert_eq!(data["status"], "completed", "{data}");
    assert_eq!(actions(data), ["created", "updated", "created", "created"], "{data}");
    let products = app.get(&admin, "/api/v1/products?first=10").await;
    let mut skus: Vec<&str> =
        products.data()["edges"].as_array().unwrap().iter().map(|e| e["node"]["sku"].as_str().unwrap()).collect();
    skus.sort_unstable();
    assert_eq!(skus, ["A1", "B1", "C1", "RACE"], "one RACE, the other writer's, now titled by the file");
}

#[actix_web::test]
async fn a_row_a_constraint_keeps_refusing_is_isolated_and_fails_alone() {
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::start().await;
    let admin = User::admin();
    // Stands for any constraint the row checks cannot see (this test's database only).
    app.db
        .conn()
        .await
        .batch_execute(
            "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.sku = 'BAD' THEN RAISE unique_violation USING CONSTRAINT = 'products_org_sku_live'; END IF; \
               RETURN NEW; END $$; \
             CREATE TRIGGER refuse_bad BEFORE INSERT ON products FOR EACH ROW EXECUTE FUNCTION refuse_bad();",
        )
        .await
        .unwrap();
    let mut file = String::from("sku,title,price\n");
    for n in 0..9 {
        file.push_str(&format!("{},Producto {n},1.00\n", if n == 6 { "BAD".to_string() } else { format!("OK{n}") }));
    }
    let job = import(&app, &admin, "text/csv", file).await;
    let mut expected = vec!["created"; 9];
    expected[6] = "failed";
    assert_eq!(actions(&job), expected, "{job}");
    assert_eq!(job["results"][6]["errors"][0]["field"], "sku", "{job}");
    let events = app.events(admin.org).await.iter().filter(|e| *e == "catalog.product.created").count();
    assert_eq!(events, 8, "the refused attempts left no events behind");
}

// ---------------------------------------------------------------------------------------------
// multipart/form-data: the file as an HTML form or `fetch` with `FormData` sends it

/// A part: (name, filename, content type, content).
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a str);

/// A `multipart/form-data` body as browsers build it (CRLF lines, a boundary they choose).
fn form(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, filename, content_type, content) in parts {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""));
        if let Some(filename) = filename {
            body.push_str(&format!("; filename=\"{filename}\""));
        }
        body.push_str("\r\n");
        if let Some(content_type) = content_type {
            body.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        body.push_str(&format!("\r\n{content}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

async fn upload_form(app: &TestApp, user: &User, query: &str, parts: &[Part<'_>], key: Option<&str>) -> Reply {
    let (content_type, body) = form(parts);
    let mut req = TestRequest::post()
        .uri(&format!("/api/v1/imports{query}"))
        .insert_header((header::AUTHORIZATION, format!("Bearer {}", user.token)))
        .insert_header((header::CONTENT_TYPE, content_type));
    if let Some(key) = key {
        req = req.insert_header(("Idempotency-Key", key));
    }
    app.call(req.set_payload(body).to_request()).await
}

#[actix_web::test]
async fn a_browser_form_upload_creates_the_products() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let file = "sku,title,price\nF1,Uno,1.00\nF2,Dos,2.00\n";
    // Windows browsers label a .csv file as Excel's: the extension decides.
    let parts = [
        ("note", None, None, "monthly load"),
        ("file", Some("catálogo.csv"), Some("application/vnd.ms-excel"), file),
        ("submit", None, None, "Upload"),
    ];
    let queued = upload_form(&app, &admin, "", &parts, None).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{:?}", queued.body);
    assert_eq!((queued.data()["format"].as_str(), queued.data()["total_rows"].as_i64()), (Some("csv"), Some(2)));
    run_jobs(&app).await;
    let job = app.get(&admin, &format!("/api/v1/imports/{}", queued.id())).await;
    assert_eq!(
        (job.data()["status"].as_str(), job.data()["created"].as_i64()),
        (Some("completed"), Some(2)),
        "{job:?}"
    );
    let products = app.get(&admin, "/api/v1/products?search=Dos").await;
    assert_eq!(products.status, StatusCode::OK);
    assert!(products.body.to_string().contains("F2"), "{:?}", products.body);
}

#[actix_web::test]
async fn a_form_upload_takes_its_format_from_the_query_the_field_the_filename_or_the_part_type() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let line = r#"{"sku":"J1","title":"Jota","price":"3.00"}"#;
    let cases: [(&str, Part<'_>, Option<&str>, &str); 4] = [
        ("", ("file", Some("datos.ndjson"), Some("application/octet-stream"), line), None, "jsonl"),
        ("", ("file", Some("blob"), Some("application/x-ndjson"), line), None, "jsonl"),
        ("", ("file", Some("blob"), Some("application/octet-stream"), "sku,title\nC1,Ce\n"), Some("csv"), "csv"),
        ("?format=csv", ("file", Some("datos.jsonl"), None, "sku,title\nC2,Ce\n"), Some("jsonl"), "csv"),
    ];
    for (query, file, field, expected) in cases {
        let mut parts = vec![file];
        if let Some(field) = field {
            parts.insert(0, ("format", None, None, field));
        }
        let r = upload_form(&app, &admin, query, &parts, None).await;
        assert_eq!((r.status, r.data()["format"].as_str()), (StatusCode::ACCEPTED, Some(expected)), "{file:?}: {r:?}");
    }
    // An unknown parameter (a misspelled `format`) is refused, naming it.
    let parts = [("file", Some("datos.csv"), Some("text/csv"), "sku,title\nX,Equis\n")];
    let r = upload_form(&app, &admin, "?fromat=csv", &parts, None).await;
    assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec!["fromat".to_string()]), "{r:?}");
    // A form's `format` naming no format is refused even where `?format` decides.
    let parts = [("format", None, None, "xml"), ("file", Some("datos.csv"), Some("text/csv"), "sku,title\nX,Equis\n")];
    let r = upload_form(&app, &admin, "?format=csv", &parts, None).await;
    assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec!["format".to_string()]), "{r:?}");
}

#[actix_web::test]
async fn a_form_part_that_says_nothing_of_its_type_is_read_by_its_contents() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let line = r#"{"sku":"J1","title":"Jota","price":"3.00"}"#;
    // A part that says nothing of its type (a Blob: no filename, or no telling one, no content
    // type or a generic one): its contents tell, as for a whole `application/octet-stream` body.
    let csv = "sku,title\nN1,Ene\n";
    for (file, expected) in [
        (("file", Some("blob"), Some("application/octet-stream"), line), "jsonl"),
        (("file", None, None, line), "jsonl"),
        (("file", None, None, csv), "csv"),
    ] {
        let r = upload_form(&app, &admin, "", &[("x", None, None, "1"), file], None).await;
        assert_eq!((r.status, r.data()["format"].as_str()), (StatusCode::ACCEPTED, Some(expected)), "{r:?}");
    }
}

#[actix_web::test]
async fn a_form_without_its_file_part_is_refused_naming_the_field() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let parts = [("upload", Some("catalog.csv"), Some("text/csv"), "sku,title\nX1,Equis\n")];
    for key in [None, Some("form-without-file")] {
        let r = upload_form(&app, &admin, "", &parts, key).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        assert_eq!(r.fields(), ["file"], "{r:?}");
    }
    // A part name with a control character cannot be an HTTP header: the body is refused whole,
    // as the document's `propertyNames` says.
    let parts = [("note\u{6}", None, None, "x"), ("file", Some("datos.csv"), None, "sku,title\nX1,Equis\n")];
    let r = upload_form(&app, &admin, "", &parts, None).await;
    assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec!["body".to_string()]), "{r:?}");
    // An empty file is there, with no line to read: a job that failed, saying so.
    let r = upload_form(&app, &admin, "", &[("file", Some("empty.csv"), None, "")], None).await;
    assert_eq!(
        (r.status, &r.data()["status"], &r.data()["error"]),
        (StatusCode::ACCEPTED, &json!("failed"), &json!("file: is empty")),
        "{r:?}"
    );
    let conn = &mut *app.db.conn().await;
    assert_eq!(imports::claim(conn).await.unwrap(), None, "nothing staged");
}

#[actix_web::test]
async fn a_retried_form_upload_with_its_key_gets_the_same_job() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let parts = [("file", Some("catalog.csv"), Some("text/csv"), "sku,title,price\nK1,Uno,1.00\n")];
    let first = upload_form(&app, &admin, "", &parts, Some("form-1")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    let retry = upload_form(&app, &admin, "", &parts, Some("form-1")).await;
    assert_eq!((retry.status, retry.id()), (StatusCode::ACCEPTED, first.id()), "the same job");
    let other = [("file", Some("catalog.csv"), Some("text/csv"), "sku,title,price\nK2,Dos,2.00\n")];
    let reused = upload_form(&app, &admin, "", &other, Some("form-1")).await;
    assert_eq!((reused.status, reused.code()), (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED"));
    let conn = &mut *app.db.conn().await;
    assert_eq!(imports::claim(conn).await.unwrap().map(|id| id.to_string()), Some(first.id()));
    assert_eq!(imports::claim(conn).await.unwrap(), None, "one job staged, not two");
}

#[test]
fn the_openapi_document_offers_the_form_upload() {
    let doc = serde_json::to_value(catalog_api::openapi::document()).unwrap();
    let content = &doc["paths"]["/api/v1/imports"]["post"]["requestBody"]["content"];
    for media_type in ["text/csv", "application/x-ndjson", "multipart/form-data"] {
        assert!(content.get(media_type).is_some(), "{media_type}: {content}");
    }
    let schema = &content["multipart/form-data"]["schema"];
    let form = match schema["$ref"].as_str() {
        Some(reference) => &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()],
        None => schema,
    };
    // Text, not bytes: the file must be UTF-8 (a generator then sends what the API takes).
    assert_eq!(form["properties"]["file"]["type"], "string", "{form}");
    assert_eq!(form["required"], json!(["file"]), "{form}");
}
