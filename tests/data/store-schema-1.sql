-- A store made by edge-harness 0.1 (schema 1, before migrations): harness/store.py at main
-- 1a4e698, one run with one result, its samples and a board. tests/test_store_schema.py upgrades it.
BEGIN TRANSACTION;
CREATE TABLE boards (
	device VARCHAR(100) NOT NULL, 
	health VARCHAR(20) NOT NULL, 
	reason TEXT, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (device)
);
INSERT INTO "boards" VALUES('host','good',NULL,'2026-12-02 16:21:51.193270');
CREATE TABLE environments (
	id INTEGER NOT NULL, 
	run_id VARCHAR(64) NOT NULL, 
	device VARCHAR(100) NOT NULL, 
	fingerprint VARCHAR(64) NOT NULL, 
	data JSON NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (run_id, device, fingerprint), 
	FOREIGN KEY(run_id) REFERENCES runs (run_id)
);
INSERT INTO "environments" VALUES(1,'20260101T000000Z-aaaaaa','host','5d571e1383951bbb1331eb98bcf8c7f9ab51c7caa4ed23ff7495bea0791b4eab','{"runtime": "litert", "runtime_version": "2.3.0"}');
CREATE TABLE harness_meta (
	"key" VARCHAR(40) NOT NULL, 
	value VARCHAR(200), 
	PRIMARY KEY ("key")
);
INSERT INTO "harness_meta" VALUES('schema','1');
CREATE TABLE latency_samples (
	result_id INTEGER NOT NULL, 
	count INTEGER NOT NULL, 
	samples_us BLOB NOT NULL, 
	PRIMARY KEY (result_id), 
	FOREIGN KEY(result_id) REFERENCES results (id)
);
INSERT INTO "latency_samples" VALUES(1,3,X'000000000000F83F00000000000002400000000000000840');
CREATE TABLE results (
	id INTEGER NOT NULL, 
	run_id VARCHAR(64) NOT NULL, 
	device VARCHAR(100) NOT NULL, 
	family VARCHAR(100) NOT NULL, 
	variant VARCHAR(100) NOT NULL, 
	reference_variant VARCHAR(100), 
	status VARCHAR(20) NOT NULL, 
	reason TEXT, 
	error_kind VARCHAR(20), 
	runtime VARCHAR(40), 
	emulated BOOLEAN NOT NULL, 
	model_sha256 VARCHAR(64), 
	model_bytes BIGINT, 
	model_gzip_bytes BIGINT, 
	environment_id INTEGER, 
	conditions JSON, 
	recorded_at DATETIME NOT NULL, 
	duration_s FLOAT, 
	init_ms FLOAT, 
	first_inference_ms FLOAT, 
	warmup_count INTEGER, 
	latency_n INTEGER, 
	latency_p50_us FLOAT, 
	latency_p90_us FLOAT, 
	latency_p99_us FLOAT, 
	latency_mean_us FLOAT, 
	latency_std_us FLOAT, 
	latency_min_us FLOAT, 
	latency_max_us FLOAT, 
	latency_ci_low_us FLOAT, 
	latency_ci_high_us FLOAT, 
	set_input_us FLOAT, 
	get_output_us FLOAT, 
	rss_load_delta_bytes BIGINT, 
	rss_peak_bytes BIGINT, 
	arena_bytes BIGINT, 
	accuracy_top1 FLOAT, 
	accuracy_top5 FLOAT, 
	accuracy_samples INTEGER, 
	accuracy_delta_points FLOAT, 
	energy_uj FLOAT, 
	avg_power_mw FLOAT, 
	peak_power_mw FLOAT, 
	idle_power_mw FLOAT, 
	battery_pct_per_hour FLOAT, 
	battery_life_h FLOAT, 
	power_status VARCHAR(20) NOT NULL, 
	power_detail JSON, 
	thresholds JSON, 
	thresholds_passed BOOLEAN, 
	extra JSON, 
	PRIMARY KEY (id), 
	CONSTRAINT one_result_per_case UNIQUE (run_id, device, family, variant), 
	FOREIGN KEY(run_id) REFERENCES runs (run_id), 
	FOREIGN KEY(environment_id) REFERENCES environments (id)
);
INSERT INTO "results" VALUES(1,'20260101T000000Z-aaaaaa','host','digits','fp32',NULL,'ok',NULL,NULL,NULL,0,NULL,NULL,NULL,1,NULL,'2026-12-02 16:21:51.181358',NULL,NULL,NULL,NULL,3,12.5,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0.97,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'not measured',NULL,NULL,NULL,NULL);
CREATE TABLE runs (
	run_id VARCHAR(64) NOT NULL, 
	suite VARCHAR(200) NOT NULL, 
	suite_path TEXT, 
	suite_sha256 VARCHAR(64), 
	suite_text TEXT, 
	devices JSON, 
	started_at DATETIME NOT NULL, 
	ended_at DATETIME, 
	status VARCHAR(20) NOT NULL, 
	harness_version VARCHAR(40), 
	git_describe VARCHAR(100), 
	controller VARCHAR(200), 
	command TEXT, 
	PRIMARY KEY (run_id)
);
INSERT INTO "runs" VALUES('20260101T000000Z-aaaaaa','quickstart',NULL,'abababababababababababababababababababababababababababababababab',NULL,'["host"]','2026-12-02 16:21:51.169312','2026-12-02 16:21:51.183253','complete','0.1.0',NULL,'lab1',NULL);
CREATE INDEX results_by_device_case ON results (device, family, variant);
COMMIT;
