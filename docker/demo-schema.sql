-- docker/demo-schema.sql - the source's schema in the compose demo: a
-- message-bus archive, as in demo/demo.sh.
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text,
                    created timestamptz DEFAULT now(), karma int DEFAULT 0);
CREATE TABLE packages (name text PRIMARY KEY, owner int REFERENCES users,
                       description text, versions jsonb);
CREATE TABLE messages (id bigint GENERATED ALWAYS AS IDENTITY, sent date NOT NULL,
                       topic text NOT NULL, username text, headers jsonb, body jsonb,
                       PRIMARY KEY (id, sent)) PARTITION BY RANGE (sent);
CREATE TABLE messages_default PARTITION OF messages DEFAULT;
INSERT INTO users (id, name, email)
SELECT g, 'user' || g, 'user' || g || '@example.org' FROM generate_series(1, 1000) g;
