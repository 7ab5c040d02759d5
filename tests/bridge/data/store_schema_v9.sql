-- A store written by the release whose SDK schema held the bridge's records
-- (SDK schema version 9): made with that release's SQLiteStore, dumped with
-- sqlite3's iterdump. tests/bridge/test_store.py opens it with today's stores.
BEGIN TRANSACTION;
CREATE TABLE api_keys (
	id VARCHAR(64) NOT NULL, 
	name VARCHAR(120) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	key_hash VARCHAR(128) NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked_at DATETIME, 
	PRIMARY KEY (id)
);
INSERT INTO "api_keys" VALUES('ak_admin','ops','admin','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','2026-11-02 09:30:00.000000',NULL);
CREATE TABLE audit_log (
	seq INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	session_id VARCHAR(64), 
	persona_id VARCHAR(64), 
	kind VARCHAR(16) NOT NULL, 
	decision VARCHAR(16) NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (seq)
);
INSERT INTO "audit_log" VALUES(1,'2026-11-02 09:30:00.000000','cmp_1','per_1','action','allow','{"at":"2026-11-02T09:30:00Z","session_id":"cmp_1","persona_id":"per_1","kind":"action","input":{"n":1},"decision":"allow","reason":null,"categories":[],"output":null}');
CREATE TABLE bridge_links (
	id VARCHAR(64) NOT NULL, 
	world VARCHAR(16) NOT NULL, 
	server_id VARCHAR(64) NOT NULL, 
	key_id VARCHAR(64) NOT NULL, 
	updated_at DATETIME NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "bridge_links" VALUES('link_1','gmod','srv-1','wk_bound','2026-11-02 09:30:00.000000','{"id":"link_1","world":"gmod","server_id":"srv-1","key_id":"wk_bound","token_hash":"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk","capabilities":["say"],"adapter":{},"out_s":3,"in_s":2,"replaced_by":null,"updated_at":"2026-11-02T09:30:00Z"}');
CREATE TABLE bridge_outbox (
	link_id VARCHAR(64) NOT NULL, 
	s INTEGER NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (link_id, s)
);
INSERT INTO "bridge_outbox" VALUES('link_1',2,'{"op": "dispatch", "d": {"action": "say", "text": "h\u00e9llo 2"}, "s": 2, "sid": "cmp_1"}');
INSERT INTO "bridge_outbox" VALUES('link_1',3,'{"op": "dispatch", "d": {"action": "say", "text": "h\u00e9llo 3"}, "s": 3, "sid": "cmp_1"}');
CREATE TABLE companion_sessions (
	id VARCHAR(64) NOT NULL, 
	world VARCHAR(16) NOT NULL, 
	server_id VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "companion_sessions" VALUES('cmp_1','gmod','srv-1','spawning','{"id":"cmp_1","persona_id":"per_1","world":"gmod","server_id":"srv-1","location":{"x":0.0,"y":0.0,"z":0.0},"status":"spawning","entity":null,"started_at":"2026-11-02T09:30:00Z","ended_at":null,"actions_sent":3,"actions_blocked":0,"actions_done":0,"actions_failed":0,"events":0}');
CREATE TABLE deploy_tokens (
	id VARCHAR(128) NOT NULL, 
	persona_id VARCHAR(64) NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "deploy_tokens" VALUES('tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt','per_1','{"token_hash":"tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt","persona_id":"per_1","expires_at":"2026-11-02T10:30:00Z","created_at":"2026-11-02T09:30:00Z"}');
CREATE TABLE documents (
	kind VARCHAR(32) NOT NULL, 
	"key" VARCHAR(200) NOT NULL, 
	updated_at DATETIME NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (kind, "key")
);
CREATE TABLE encounters (
	id VARCHAR(64) NOT NULL, 
	category VARCHAR(16) NOT NULL, 
	template_id VARCHAR(64), 
	created_at DATETIME NOT NULL, 
	seq INTEGER NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE event_log (
	id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	"key" VARCHAR(200), 
	at DATETIME NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE llm_usage (
	seq INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	provider VARCHAR(64) NOT NULL, 
	model VARCHAR(128) NOT NULL, 
	purpose VARCHAR(32) NOT NULL, 
	ok INTEGER NOT NULL, 
	error TEXT, 
	input_tokens INTEGER NOT NULL, 
	output_tokens INTEGER NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	latency_ms FLOAT NOT NULL, 
	PRIMARY KEY (seq)
);
CREATE TABLE personas (
	id VARCHAR(64) NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	creator_id VARCHAR(64) NOT NULL, 
	updated_at DATETIME NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE schema_meta (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "schema_meta" VALUES('schema_version','9');
CREATE TABLE sessions (
	id VARCHAR(64) NOT NULL, 
	player_id VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	campaign_id VARCHAR(64), 
	encounter_id VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE world_keys (
	id VARCHAR(64) NOT NULL, 
	name VARCHAR(120) NOT NULL, 
	world VARCHAR(16) NOT NULL, 
	key_hash VARCHAR(128) NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked_at DATETIME, 
	server_ids TEXT DEFAULT '[]' NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "world_keys" VALUES('wk_bound','box one','gmod','hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh','2026-11-02 09:30:00.000000',NULL,'["srv-1"]');
INSERT INTO "world_keys" VALUES('wk_revoked','old box','minecraft','rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr','2026-11-02 09:31:00.000000','2026-11-03 09:30:00.000000','[]');
CREATE INDEX ix_encounters_category_seq ON encounters (category, seq);
CREATE INDEX ix_sessions_player_created ON sessions (player_id, created_at);
CREATE INDEX ix_sessions_status ON sessions (status);
CREATE INDEX ix_sessions_campaign ON sessions (campaign_id);
CREATE INDEX ix_audit_session_seq ON audit_log (session_id, seq);
CREATE INDEX ix_audit_persona_seq ON audit_log (persona_id, seq);
CREATE INDEX ix_llm_usage_at ON llm_usage (at);
CREATE INDEX ix_bridge_links_server ON bridge_links (world, server_id);
CREATE INDEX ix_companion_server ON companion_sessions (world, server_id, status);
CREATE INDEX ix_event_log_kind_key_id ON event_log (kind, "key", id);
CREATE INDEX ix_event_log_kind_id ON event_log (kind, id);
COMMIT;
