#!/usr/bin/env bash
# Create one database per service (enrollment, settlement, pricing, fraud, gateway).
#
# Used by the official postgres image: mounted into /docker-entrypoint-initdb.d, it runs
# once, when the data directory is first initialised, as $POSTGRES_USER. It is also safe to
# run again by hand against a running server (every step checks before it creates):
#
#     PGHOST=127.0.0.1 PGUSER=ybj PGPASSWORD=... ./deploy/postgres/init-databases.sh
#
# Environment:
#   YBJ_DATABASES          databases to create (default: the five services)
#   POSTGRES_USER          owner of the databases when no per-service role is asked for
#   <NAME>_DB_PASSWORD     optional, e.g. SETTLEMENT_DB_PASSWORD: create (or update) a
#                          login role named like the database with this password, make it
#                          the database's owner, and take CONNECT away from PUBLIC, so
#                          each service can reach only its own database.
set -euo pipefail

databases="${YBJ_DATABASES:-enrollment settlement pricing fraud gateway}"
owner_default="${POSTGRES_USER:-${PGUSER:-postgres}}"

psql_admin() {
    # ON_ERROR_STOP: fail the script on the first SQL error. Connect to the maintenance
    # database; the variables are passed with -v and quoted by psql (:'x' / :"x").
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --dbname "${POSTGRES_DB:-postgres}" "$@"
}

for db in $databases; do
    if ! [[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]]; then
        echo "init-databases: refusing database name '$db' (lower-case letters, digits, _)" >&2
        exit 1
    fi

    password_var="$(printf '%s' "$db" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
    password="${!password_var:-}"
    owner="$owner_default"

    if [[ -n "$password" ]]; then
        owner="$db"
        psql_admin -v role="$db" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role')
\gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'password')
\gexec
SQL
    fi

    psql_admin -v db="$db" -v owner="$owner" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')
\gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'owner')
\gexec
SQL

    if [[ -n "$password" ]]; then
        psql_admin -v db="$db" -v owner="$owner" <<'SQL'
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', :'db')
\gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'db', :'owner')
\gexec
SQL
        # PostgreSQL 15+: the public schema belongs to pg_database_owner, i.e. the new
        # owner, so the service role can create its tables there without further grants.
    fi
    echo "init-databases: database '$db' ready (owner $owner)"
done
