/*
 * cmd_village.c — `lastmile-server village add|list|update` and `warehouse
 * add|list`: the places of the catalog headquarters owns (docs/server.md).
 * A county is the name villages share: it comes into being with its first
 * village, and a warehouse belongs to a county that has one. Every write
 * goes through lm__hq_write, so agents (villages) and the county's
 * dispatchers (warehouses) receive it on their next sync. A village's
 * county never changes: it decides who reads the village's farmers and
 * purchases (a row never moves between scopes, scope.c).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "lm_text.h"
#include "args.h"

static const char village_usage[] =
    "usage: lastmile-server village add --db PATH --name NAME --county COUNTY\n"
    "                                   [--lat DEG --lon DEG]\n"
    "       lastmile-server village list --db PATH [--county COUNTY] [--json]\n"
    "       lastmile-server village update --db PATH --name NAME [--lat DEG] [--lon DEG]\n"
    "\n"
    "add     adds a village to the catalog every agent receives. A county that\n"
    "        has no village yet comes into being with this one. --lat and --lon\n"
    "        (decimal degrees, north and east positive; both or neither) place it\n"
    "        for route suggest. An existing name is an error.\n"
    "list    lists villages (name, county, lat, lon, farmers), by county and name.\n"
    "update  sets a village's coordinates. Its county cannot change: it decides\n"
    "        who reads the village's farmers and purchases.\n";

static const char warehouse_usage[] =
    "usage: lastmile-server warehouse add --db PATH --name NAME --county COUNTY\n"
    "                                     --lat DEG --lon DEG\n"
    "       lastmile-server warehouse list --db PATH [--county COUNTY] [--json]\n"
    "\n"
    "add   adds a warehouse (where the county's trucks start and unload; route\n"
    "      suggest plans from the first by name) in a county some village is in,\n"
    "      at decimal degrees. The county's dispatchers and hq receive it on their\n"
    "      next sync. An existing name is an error.\n"
    "list  lists warehouses (name, county, lat, lon), by county and name.\n";

/* "lastmile-server CMD: what 'value'" on stderr; returns 1. */
static int refuse(const char *cmd, const char *what, const char *value)
{
    fprintf(stderr, "lastmile-server %s: %s '%s'\n", cmd, what, value);
    return 1;
}

/* What every place command takes: --db --name --county --lat --lon, the
 * options of `required` among them (a comma list, as lm__hq_args_run). */
typedef struct place_opts {
    const char *db, *name, *county, *lat, *lon;
} place_opts;

static int place_args(int argc, char **argv, const char *cmd, const char *usage,
                      const char *required, place_opts *o)
{
    memset(o, 0, sizeof *o);
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &o->db, NULL},
                     {"name", LM_OPT_VALUE, &o->name, NULL},
                     {"county", LM_OPT_VALUE, &o->county, NULL},
                     {"lat", LM_OPT_VALUE, &o->lat, NULL},
                     {"lon", LM_OPT_VALUE, &o->lon, NULL}};
    return lm__hq_args_run(argc, argv, opts, sizeof opts / sizeof opts[0], cmd, usage, required);
}

/* --lat and --lon, each given or not: REAL parameters, or SQL NULL. */
static int parse_coords(const char *cmd, const char *table, const char *lat, const char *lon,
                        lm_hq_param *plat, lm_hq_param *plon)
{
    *plat = (lm_hq_param){NULL, 0, LM_HQ_NULL, 0};
    *plon = *plat;
    int rc = 0;
    if (lat && !(rc = lm__hq_parse_degrees(cmd, "lat", table, "lat", lat, &plat->real)))
        plat->kind = LM_HQ_REAL;
    if (!rc && lon && !(rc = lm__hq_parse_degrees(cmd, "lon", table, "lon", lon, &plon->real)))
        plon->kind = LM_HQ_REAL;
    return rc;
}

/* The coordinates of an add: both or neither (want_both: both required). */
static int parse_pair(const char *cmd, const char *table, const char *lat, const char *lon,
                      int want_both, lm_hq_param *plat, lm_hq_param *plon)
{
    if (!lat != !lon || (want_both && !lat)) {
        fprintf(stderr, "lastmile-server %s: --lat and --lon go together\n", cmd);
        return 2;
    }
    return parse_coords(cmd, table, lat, lon, plat, plon);
}

static int village_add(int argc, char **argv)
{
    const char *cmd = "village add";
    place_opts o;
    int rc = place_args(argc, argv, cmd, village_usage, "db,name,county", &o);
    if (rc != LM_ARGS_GO)
        return rc;
    const char *db = o.db, *name = o.name, *county = o.county, *lat = o.lat, *lon = o.lon;
    lm_hq_param p[4] = {{name, 0, 0, 0}, {county, 0, 0, 0}};
    if ((rc = lm__hq_check_name(cmd, "name", name)) ||
        (rc = lm__hq_check_name(cmd, "county", county)) ||
        (rc = parse_pair(cmd, "villages", lat, lon, 0, &p[2], &p[3])))
        return rc;
    lm_replica *r = lm__hq_open(db, cmd);
    if (!r)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    int fresh = lm__hq_exists(sdb, "villages", "county", county) == 0;
    char err[512] = "";
    rc = 1;
    if (lm__hq_exists(sdb, "villages", "name", name) != 0)
        refuse(cmd, "a village of this name exists already:", name);
    else if (lm__hq_write(r, "INSERT INTO villages(name, county, lat, lon) VALUES(?1, ?2, ?3, ?4)",
                          p, 4, NULL, err, sizeof err) != LM_OK)
        fprintf(stderr, "lastmile-server %s: %s\n", cmd, err);
    else
        rc = 0;
    if (!rc)
        printf("%s%s%s%s\n", name, fresh ? " (new county " : "", fresh ? county : "",
               fresh ? ")" : "");
    lm_replica_close(r);
    return rc;
}

static int village_update(int argc, char **argv)
{
    const char *cmd = "village update";
    place_opts o;
    int rc = place_args(argc, argv, cmd, village_usage, "db,name", &o);
    if (rc != LM_ARGS_GO)
        return rc;
    const char *db = o.db, *name = o.name, *county = o.county, *lat = o.lat, *lon = o.lon;
    if (county) {
        fprintf(stderr,
                "lastmile-server %s: a village's county never changes (it decides who reads its"
                " farmers and purchases); add a village in the other county instead\n",
                cmd);
        return 2;
    }
    if (!lat && !lon) {
        fprintf(stderr, "lastmile-server %s: nothing to change: give --lat and/or --lon\n", cmd);
        return 2;
    }
    /* NULL leaves the coordinate as it is */
    lm_hq_param p[3] = {{name, 0, 0, 0}};
    if ((rc = parse_coords(cmd, "villages", lat, lon, &p[1], &p[2])))
        return rc;
    lm_replica *r = lm__hq_open(db, cmd);
    if (!r)
        return 1;
    char err[512] = "";
    int changed = 0;
    rc = 1;
    if (lm__hq_exists(lm_replica_db(r), "villages", "name", name) <= 0)
        refuse(cmd, "unknown village", name);
    else if (lm__hq_write(r,
                          "UPDATE villages SET lat = CASE WHEN ?2 IS NULL THEN lat ELSE ?2 END,"
                          " lon = CASE WHEN ?3 IS NULL THEN lon ELSE ?3 END WHERE name = ?1",
                          p, 3, &changed, err, sizeof err) != LM_OK)
        fprintf(stderr, "lastmile-server %s: %s\n", cmd, err);
    else
        rc = 0;
    if (!rc)
        printf("%s\n", name);
    lm_replica_close(r);
    return rc;
}

static const char *const village_cols[] = {"name", "county", "lat", "lon", "farmers"};
static const int village_num[] = {0, 0, 1, 1, 1};
static const char *const warehouse_cols[] = {"name", "county", "lat", "lon"};
static const int warehouse_num[] = {0, 0, 1, 1};

int lm__cmd_village(int argc, char **argv)
{
    static const char *const subs[] = {"add", "list", "update", NULL};
    int rc = lm__hq_usage(argc, argv, subs, village_usage);
    if (rc >= 0)
        return rc;
    if (!strcmp(argv[0], "add"))
        return village_add(argc - 1, argv + 1);
    if (!strcmp(argv[0], "update"))
        return village_update(argc - 1, argv + 1);
    lm_hq_rows shape = {village_cols, village_num, 5, NULL, 0, 0};
    return lm__hq_list_cmd(
        argc - 1, argv + 1, "village list", village_usage, "county", "villages", "county",
        "unknown county (no village is in it)",
        "SELECT v.name, v.county, v.lat, v.lon, (SELECT count(*) FROM farmers f"
        " WHERE f.village = v.name) FROM villages v WHERE ?1 IS NULL OR v.county = ?1"
        " ORDER BY v.county, v.name",
        &shape);
}

static int warehouse_add(int argc, char **argv)
{
    const char *cmd = "warehouse add";
    place_opts o;
    int rc = place_args(argc, argv, cmd, warehouse_usage, "db,name,county,lat,lon", &o);
    if (rc != LM_ARGS_GO)
        return rc;
    const char *db = o.db, *name = o.name, *county = o.county, *lat = o.lat, *lon = o.lon;
    lm_hq_param p[4] = {{name, 0, 0, 0}, {county, 0, 0, 0}};
    if ((rc = lm__hq_check_name(cmd, "name", name)) ||
        (rc = parse_pair(cmd, "warehouses", lat, lon, 1, &p[2], &p[3])))
        return rc;
    lm_replica *r = lm__hq_open(db, cmd);
    if (!r)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    char err[512] = "";
    rc = 1;
    if (lm__hq_exists(sdb, "villages", "county", county) <= 0)
        refuse(cmd, "unknown county (no village is in it; village add makes one)", county);
    else if (lm__hq_exists(sdb, "warehouses", "name", name) != 0)
        refuse(cmd, "a warehouse of this name exists already:", name);
    else if (lm__hq_write(r,
                          "INSERT INTO warehouses(name, county, lat, lon) VALUES(?1, ?2, ?3, ?4)",
                          p, 4, NULL, err, sizeof err) != LM_OK)
        fprintf(stderr, "lastmile-server %s: %s\n", cmd, err);
    else
        rc = 0;
    if (!rc)
        printf("%s\n", name);
    lm_replica_close(r);
    return rc;
}

int lm__cmd_warehouse(int argc, char **argv)
{
    static const char *const subs[] = {"add", "list", NULL};
    int rc = lm__hq_usage(argc, argv, subs, warehouse_usage);
    if (rc >= 0)
        return rc;
    if (!strcmp(argv[0], "add"))
        return warehouse_add(argc - 1, argv + 1);
    lm_hq_rows shape = {warehouse_cols, warehouse_num, 4, NULL, 0, 0};
    return lm__hq_list_cmd(
        argc - 1, argv + 1, "warehouse list", warehouse_usage, "county", "villages", "county",
        "unknown county (no village is in it)",
        "SELECT name, county, lat, lon FROM warehouses WHERE ?1 IS NULL OR county = ?1"
        " ORDER BY county, name",
        &shape);
}
