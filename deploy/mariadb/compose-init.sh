#!/bin/sh
# docker-compose only: the mariadb image sources this on the first start of an empty data
# volume. It runs deploy/mariadb/setup.sql with the passwords from the environment and
# with the users' host part opened to the compose network ('%': the database port is not
# published outside that network).
set -eu
sed -e "s/CHANGE-ME-app-db-password/${FENXIAO_APP_DB_PASSWORD}/g" \
    -e "s/CHANGE-ME-migrate-db-password/${FENXIAO_MIGRATE_DB_PASSWORD}/g" \
    -e "s/'@'127.0.0.1'/'@'%'/g" \
    /fenxiao/setup.sql | docker_process_sql
