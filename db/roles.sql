-- The database's roles and what each may do. Idempotent: run it as the superuser on a new database,
-- on one that predates it, and again after every migration (the cluster runs it before and after
-- the release's migration Job, knative/migrate/; the tests run it on throwaway databases):
--
--   KNFN_OWNER_PASSWORD=... KNFN_APP_PASSWORD=... KNFN_STATS_PASSWORD=... KNFN_BACKUP_PASSWORD=... \
--   psql -v ON_ERROR_STOP=1 -v owner=knfn_owner -v app=knfn_app -v stats=knfn_stats -v backup=knfn_backup -f db/roles.sql
--
-- Passwords come from the environment (\getenv), never from a command line or this file. The role
-- names are variables because roles are cluster-wide: tests create their own and drop them.
--
--   owner  owns the schemas and every table; runs the migrations, restores a dump. No superuser.
--   app    SELECT/INSERT/UPDATE/DELETE on the tables of public and USAGE on its sequences; no DDL.
--   stats  what runtime/request-stats.ts's upsert needs on request_stats, nothing else.
--   backup SELECT on everything pg_dump reads; writes nothing.

\set ON_ERROR_STOP on
\getenv owner_password KNFN_OWNER_PASSWORD
\getenv app_password KNFN_APP_PASSWORD
\getenv stats_password KNFN_STATS_PASSWORD
\getenv backup_password KNFN_BACKUP_PASSWORD
\if :{?owner_password} \else \set owner_password '' \endif
\if :{?app_password} \else \set app_password '' \endif
\if :{?stats_password} \else \set stats_password '' \endif
\if :{?backup_password} \else \set backup_password '' \endif

-- A role without a password could not log in over the network; an empty one is a mistake.
select format('do $fail$ begin raise exception %L; end $fail$', 'db/roles.sql: no password in ' || missing)
from (
  select string_agg(variable, ', ') as missing
  from (values ('KNFN_OWNER_PASSWORD', :'owner_password'), ('KNFN_APP_PASSWORD', :'app_password'),
               ('KNFN_STATS_PASSWORD', :'stats_password'), ('KNFN_BACKUP_PASSWORD', :'backup_password')) as given(variable, password)
  where password = ''
) as check_passwords
where missing is not null \gexec

begin;

select format('create role %I', role) from unnest(array[:'owner', :'app', :'stats', :'backup']) as role
where not exists (select from pg_roles where rolname = role) \gexec

-- Every run sets the attributes and passwords again: a rotated Secret takes effect on the next run.
select format('alter role %I with login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password %L', role, password)
from (values (:'owner', :'owner_password'), (:'app', :'app_password'), (:'stats', :'stats_password'),
             (:'backup', :'backup_password')) as given(role, password) \gexec

-- Only these roles (and superusers) may connect; the owner may create schemas (a restore with
-- --clean drops and creates drizzle's).
select format('revoke all on database %I from public', current_database()) \gexec
select format('grant connect, create, temporary on database %I to %I', current_database(), :'owner') \gexec
select format('grant connect on database %I to %I, %I, %I', current_database(), :'app', :'stats', :'backup') \gexec

alter schema public owner to :"owner";
revoke all on schema public from public;
grant usage on schema public to :"app", :"stats", :"backup";
-- drizzle-kit's journal lives here; the functions never see it.
create schema if not exists drizzle authorization :"owner";
alter schema drizzle owner to :"owner";
revoke all on schema drizzle from public;
grant usage on schema drizzle to :"backup";

-- A database migrated before these roles existed has its tables owned by the superuser: hand them
-- over (sequences owned by a column follow their table).
select format('alter table %I.%I owner to %I', n.nspname, c.relname, :'owner')
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname in ('public', 'drizzle') and c.relkind in ('r', 'p', 'v', 'm', 'f')
  and c.relowner <> (select oid from pg_roles where rolname = :'owner') \gexec
select format('alter sequence %I.%I owner to %I', n.nspname, c.relname, :'owner')
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname in ('public', 'drizzle') and c.relkind = 'S'
  and c.relowner <> (select oid from pg_roles where rolname = :'owner') \gexec

-- What exists now ...
grant select, insert, update, delete on all tables in schema public to :"app";
grant usage on all sequences in schema public to :"app";
grant select on all tables in schema public, drizzle to :"backup";
grant select on all sequences in schema public, drizzle to :"backup";
-- ... and what later migrations (run by the owner) create.
alter default privileges for role :"owner" in schema public grant select, insert, update, delete on tables to :"app";
alter default privileges for role :"owner" in schema public grant usage on sequences to :"app";
alter default privileges for role :"owner" in schema public, drizzle grant select on tables to :"backup";
alter default privileges for role :"owner" in schema public, drizzle grant select on sequences to :"backup";

-- The statistics upsert (INSERT ... ON CONFLICT DO UPDATE SET requests = request_stats.requests +
-- excluded.requests, ...) reads the existing row's counters: PostgreSQL requires SELECT on every
-- column the DO UPDATE reads, and on the conflict target's. No other table, so a leaked stats
-- password reads no messages. request_stats comes with a migration, hence the run after it.
select format('grant insert, update, select (%s) on public.request_stats to %I',
              'bucket_start, function, method, route, requests, client_errors, server_errors, duration_ms_sum, latency_counts, last_seen, process_starts', :'stats')
where to_regclass('public.request_stats') is not null \gexec

commit;
