-- fenxiao database and users on MariaDB 10.6+ / MySQL 8. Run as an administrator:
--   sudo mariadb < deploy/mariadb/setup.sql
-- after replacing both CHANGE-ME passwords (and the host part if the app runs elsewhere
-- than on this machine: '10.0.0.%' for a private subnet, never '%' on a public interface).
-- Re-runnable: it creates what is missing, resets the passwords and the grants.
--
-- Two users, least privilege:
--   fenxiao_app      what the running services need: read and write rows, nothing else.
--                    A compromised web worker cannot drop or alter a table.
--   fenxiao_migrate  schema changes (python -m server.cli migrate) and the bootstrap seed.
-- `make stack` runs this very file (names and passwords substituted) to prove the services
-- work with the application user's rights alone.

CREATE DATABASE IF NOT EXISTS `fenxiao`
  CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE USER IF NOT EXISTS 'fenxiao_app'@'127.0.0.1' IDENTIFIED BY 'CHANGE-ME-app-db-password';
ALTER USER 'fenxiao_app'@'127.0.0.1' IDENTIFIED BY 'CHANGE-ME-app-db-password';
CREATE USER IF NOT EXISTS 'fenxiao_migrate'@'127.0.0.1' IDENTIFIED BY 'CHANGE-ME-migrate-db-password';
ALTER USER 'fenxiao_migrate'@'127.0.0.1' IDENTIFIED BY 'CHANGE-ME-migrate-db-password';

-- Start from nothing so a re-run never leaves a stronger grant behind.
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'fenxiao_app'@'127.0.0.1';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'fenxiao_migrate'@'127.0.0.1';

-- Row locks (SELECT ... FOR UPDATE) need SELECT plus UPDATE, both granted here.
GRANT SELECT, INSERT, UPDATE, DELETE ON `fenxiao`.* TO 'fenxiao_app'@'127.0.0.1';

GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES,
      CREATE VIEW, SHOW VIEW, LOCK TABLES
  ON `fenxiao`.* TO 'fenxiao_migrate'@'127.0.0.1';

FLUSH PRIVILEGES;
