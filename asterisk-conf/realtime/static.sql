-- Static realtime for res_phoneprov: phoneprov.conf and phoneprov_users.conf as rows of
-- PostgreSQL, read through res_config_pgsql exactly as the files would be (extconfig.conf).
-- psql -d asterisk -f static.sql, as the role res_pgsql.conf names (or grant it SELECT).

-- Asterisk's generic layout for any configuration file. res_config_pgsql reads a file with
--   SELECT category, var_name, var_val, cat_metric FROM <table>
--    WHERE filename = '<file>' AND commented = 0
--    ORDER BY cat_metric DESC, var_metric ASC, category, var_name
-- and starts a new section whenever the category or cat_metric changes. So:
--  * give every section of a file its own cat_metric (sections sharing one interleave by
--    var_metric and come out cut into pieces); sections come out by cat_metric, highest first;
--  * var_metric orders the lines of a section;
--  * one row per line: `setvar => NAME=VALUE` is var_name 'setvar', var_val 'NAME=VALUE';
--    a profile's `${MAC}.cfg => template.cfg` is var_name '${MAC}.cfg', var_val 'template.cfg';
--  * values are taken as they are (no `;` comments, no `\` escapes, no templates `[x](y)`);
--  * section names must be shorter than 80 bytes (the driver compares only 79).
CREATE TABLE ast_config (
    id         serial PRIMARY KEY,
    cat_metric integer NOT NULL DEFAULT 0,
    var_metric integer NOT NULL DEFAULT 0,
    commented  smallint NOT NULL DEFAULT 0,
    filename   varchar(128) NOT NULL,
    category   varchar(128) NOT NULL DEFAULT 'default' CHECK (octet_length(category) < 80),
    var_name   varchar(128) NOT NULL,
    var_val    text NOT NULL
);
CREATE INDEX ast_config_filename ON ast_config (filename, commented);

-- Phones the way a provisioning database keeps them: one row per line (a section of
-- phoneprov_users.conf). Several rows with the same macaddress are that phone's lines.
-- NULL means "not set" (the profile's or [general]'s default applies).
CREATE TABLE phoneprov_lines (
    id            serial PRIMARY KEY,
    section       varchar(79) NOT NULL UNIQUE,  -- [6001]; also USERNAME when username is NULL
    macaddress    varchar(64) NOT NULL,
    profile       varchar(64),
    username      varchar(80),
    secret        varchar(80),
    fullname      varchar(80),
    label         varchar(80),
    cid_number    varchar(40),
    timezone      varchar(64),
    linenumber    integer,
    linekeys      integer,
    http_username varchar(80),
    http_secret   varchar(80)
);
CREATE INDEX phoneprov_lines_mac ON phoneprov_lines (macaddress);

-- phoneprov_users.conf in the layout above: each line a section with cat_metric -id (so the
-- driver's descending order lists them by id, as PP_EACH_USER shows them), plus whatever rows
-- ast_config holds for phoneprov_users.conf ([general]: vmexten, localextenlength), which
-- come first. Map phoneprov_users.conf to this view in extconfig.conf.
CREATE VIEW phoneprov_users_conf AS
    SELECT -l.id AS cat_metric, v.n AS var_metric, 0 AS commented,
           'phoneprov_users.conf'::varchar AS filename, l.section AS category,
           v.name AS var_name, v.val AS var_val
      FROM phoneprov_lines l
     CROSS JOIN LATERAL (VALUES
           (0, 'autoprov', 'yes'),
           (1, 'macaddress', l.macaddress),
           (2, 'profile', l.profile),
           (3, 'username', l.username),
           (4, 'secret', l.secret),
           (5, 'fullname', l.fullname),
           (6, 'label', l.label),
           (7, 'cid_number', l.cid_number),
           (8, 'timezone', l.timezone),
           (9, 'linenumber', l.linenumber::text),
           (10, 'linekeys', l.linekeys::text),
           (11, 'http_username', l.http_username),
           (12, 'http_secret', l.http_secret)) AS v(n, name, val)
     WHERE v.val IS NOT NULL
    UNION ALL
    SELECT cat_metric, var_metric, commented, filename, category, var_name, var_val
      FROM ast_config
     WHERE filename = 'phoneprov_users.conf';
