# tests/tap/t/081_apply_privilege.pl - a hostile replica role cannot get
# its code run by the (superuser) applier: operators and functions it
# defines in a schema of the default search_path are never picked up (the
# session pins search_path to '' and qualifies every operator, keys on
# citext, enums and domains included), and a trigger that fires under
# session_replication_role = replica on a table it owns is refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TideTest;
use ApplyTest;

my $schema = q{
CREATE EXTENSION citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN code_t AS citext;
CREATE TABLE vk (k varchar(10) PRIMARY KEY, v int);
CREATE TABLE ck (k citext PRIMARY KEY, v int);
CREATE TABLE ek (k mood PRIMARY KEY, v int);
CREATE TABLE dk (k code_t PRIMARY KEY, v int);
CREATE TABLE vfull (k varchar(10), v int);
ALTER TABLE vfull REPLICA IDENTITY FULL;
CREATE TABLE mt (id int PRIMARY KEY, v text);
};
my @tables = qw(vk ck ek dk vfull);
my ($src, $dir) = apply_source('src', $schema);
$src->safe_psql('postgres', q{
INSERT INTO vk VALUES ('a', 1), ('b', 2), ('c', 3);
INSERT INTO ck VALUES ('Abc', 1), ('dEf', 2), ('x', 3);
INSERT INTO ek VALUES ('sad', 1), ('ok', 2), ('happy', 3);
INSERT INTO dk VALUES ('K1', 1), ('k2', 2), ('K3', 3);
INSERT INTO vfull VALUES ('a', 1), ('b', 2), ('c', 3);
INSERT INTO mt VALUES (1, 'one');
});
# set-based updates and deletes, key updates (statements), identity FULL
$src->safe_psql('postgres', q{
UPDATE vk SET v = v + 10 WHERE k = 'a';
UPDATE vk SET k = 'z' WHERE k = 'b';
DELETE FROM vk WHERE k = 'c';
UPDATE ck SET v = v + 10 WHERE k = 'abc';
UPDATE ck SET k = 'Zed' WHERE k = 'def';
DELETE FROM ck WHERE k = 'X';
UPDATE ek SET v = v + 10 WHERE k = 'sad';
DELETE FROM ek WHERE k = 'happy';
UPDATE ek SET k = 'happy' WHERE k = 'ok';
UPDATE dk SET v = v + 10 WHERE k = 'k1';
UPDATE dk SET k = 'K9' WHERE k = 'K2';
DELETE FROM dk WHERE k = 'k3';
UPDATE vfull SET v = 20 WHERE k = 'b';
DELETE FROM vfull WHERE k = 'c';
UPDATE mt SET v = 'uno';
});
stream_to($src, $dir);

my $rep = replica_node('rep');
$rep->safe_psql('postgres', 'CREATE ROLE mallory LOGIN NOSUPERUSER');
my $hostile = q{
-- mallory owns a schema of the default search_path ("$user", public)
ALTER SCHEMA public OWNER TO mallory;
CREATE TABLE public.marker (who text, what text);
ALTER TABLE public.marker OWNER TO mallory;
GRANT INSERT ON public.marker TO PUBLIC;
SET ROLE mallory;
CREATE FUNCTION public.pwn(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.marker VALUES (current_user, what);
  BEGIN
    EXECUTE 'ALTER ROLE mallory SUPERUSER';
  EXCEPTION WHEN insufficient_privilege THEN NULL;
  END;
END $$;
CREATE FUNCTION public.eq_vv(varchar, varchar) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.pwn('=(varchar, varchar)'); RETURN $1::text OPERATOR(pg_catalog.=) $2::text; END $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.eq_vv);
CREATE FUNCTION public.eq_mm(public.mood, public.mood) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.pwn('=(mood, mood)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (LEFTARG = public.mood, RIGHTARG = public.mood, FUNCTION = public.eq_mm);
CREATE FUNCTION public.eq_dd(public.code_t, public.code_t) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.pwn('=(code_t, code_t)'); RETURN $1::public.citext OPERATOR(public.=) $2::public.citext; END $$;
CREATE OPERATOR public.= (LEFTARG = public.code_t, RIGHTARG = public.code_t, FUNCTION = public.eq_dd);
CREATE FUNCTION public.eq_cv(public.citext, varchar) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.pwn('=(citext, varchar)'); RETURN $1 OPERATOR(public.=) $2::public.citext; END $$;
CREATE OPERATOR public.= (LEFTARG = public.citext, RIGHTARG = varchar, FUNCTION = public.eq_cv);
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.pwn('now()'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION public.hashtext(varchar) RETURNS int LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.pwn('hashtext(varchar)'); RETURN 0; END $$;
CREATE FUNCTION public.text(public.mood) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.pwn('text(mood)'); RETURN 'x'; END $$;
RESET ROLE;
};

# ---- operators and functions in the search path
replica_db($rep, 'r_op', $schema . $hostile);
my ($rc, $out, $err) = apply_to($rep, 'r_op', $dir, '--tables', join(',', map { "public.$_" } @tables));
is($rc, 0, 'apply with hostile operators in the path: exit 0') or diag($err);
is($rep->safe_psql('r_op', "SELECT coalesce(string_agg(who || ': ' || what, '; '), 'none') FROM public.marker"),
	'none', 'none of mallory\'s functions ran');
is($rep->safe_psql('r_op', "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'"), 'f', 'mallory is no superuser');
for my $t (@tables)
{
	is(table_md5($rep, 'r_op', $t), table_md5($src, 'postgres', $t), "$t equal to the source");
}

# ---- a trigger that fires in replica mode, on a table mallory owns
$rep->safe_psql('postgres', 'ALTER ROLE mallory NOSUPERUSER');
replica_db($rep, 'r_trig', $schema . $hostile . q{
ALTER TABLE mt OWNER TO mallory;
SET ROLE mallory;
CREATE FUNCTION public.mt_trig() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.pwn('ENABLE ALWAYS trigger'); RETURN NEW; END $$;
CREATE TRIGGER mt_always BEFORE INSERT OR UPDATE ON public.mt FOR EACH ROW EXECUTE FUNCTION public.mt_trig();
ALTER TABLE public.mt ENABLE ALWAYS TRIGGER mt_always;
RESET ROLE;
});
($rc, $out, $err) = apply_to($rep, 'r_trig', $dir, '--tables', 'public.mt');
is($rc, 4, 'ENABLE ALWAYS trigger on a table of another owner: exit 4');
note($err);
like($err, qr/table "public\.mt".*trigger "mt_always"/s, '... naming the table and the trigger');
like($err, qr/mallory/, '... and its owner');
is($rep->safe_psql('r_trig', "SELECT coalesce(string_agg(who || ': ' || what, '; '), 'none') FROM public.marker"),
	'none', 'the trigger did not run');
is($rep->safe_psql('r_trig', "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'"), 'f', 'mallory is no superuser');

# the same with ENABLE REPLICA
$rep->safe_psql('r_trig', 'ALTER TABLE mt ENABLE REPLICA TRIGGER mt_always');
($rc, $out, $err) = apply_to($rep, 'r_trig', $dir, '--tables', 'public.mt');
is($rc, 4, 'ENABLE REPLICA trigger on a table of another owner: exit 4');
is($rep->safe_psql('r_trig', "SELECT count(*) FROM public.marker"), '0', 'the trigger did not run');

# a replica trigger the applying role owns (table and function) runs, with
# search_path '': its function names what it uses
replica_db($rep, 'r_own', $schema . q{
CREATE TABLE public.audit (id int, v text);
CREATE FUNCTION public.mt_audit() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.audit VALUES (NEW.id, NEW.v); RETURN NEW; END $$;
CREATE TRIGGER mt_audit AFTER INSERT OR UPDATE ON public.mt FOR EACH ROW EXECUTE FUNCTION public.mt_audit();
ALTER TABLE public.mt ENABLE ALWAYS TRIGGER mt_audit;
});
($rc, $out, $err) = apply_to($rep, 'r_own', $dir, '--tables', 'public.mt');
is($rc, 0, 'ENABLE ALWAYS trigger of the applying role: exit 0') or diag($err);
is($rep->safe_psql('r_own', "SELECT string_agg(id || '=' || v, ',' ORDER BY v) FROM public.audit"), '1=one,1=uno',
	'it fired for each change');
is(table_md5($rep, 'r_own', 'mt'), table_md5($src, 'postgres', 'mt'), 'mt equal to the source');

done_testing();
