/*  hrb_view_file: a broker's durable view state on disk (docs/cluster.md,
    "Running a cluster").

    The votes and the installed view (hrb_view_durable_t) must survive a
    restart, or a restarted broker could vote twice in one term. They live
    in STATE_DIR/herald-ID.view, a small JSON file naming brokers by id:

        {"term": 7, "voted_for": "b2",
         "view": {"number": 7, "members": ["b1", "b2"], "owners": ["b1"],
                  "handoff": []}}

    Saving writes a temporary file next to it, fsyncs it, renames it over
    the old one and fsyncs the directory, so a crash leaves the old state or
    the new one, never a mix. A file that cannot be read back (bad JSON, a
    field missing, an id not in the cluster file) is a start-up error: it
    is never taken for a first start.  */
#ifndef HRB_VIEW_FILE_H
#define HRB_VIEW_FILE_H

#include "hrb_view.h"
#include "hr_buf.h"
#include "hr_cluster.h"

#include <stdbool.h>

//  Largest state file read (a full one is under 2 KiB).
#define HRB_VIEW_FILE_MAX (16 * 1024)

//  DIR/herald-ID.view. Caller frees it.
char *hrb_view_file_path (const char *dir, const char *id);

//  Checks that dir is a directory this process can create files in.
//  Returns -1 with a reason in err.
int hrb_view_file_check_dir (const char *dir, hr_buf_t *err);

//  Reads the state at path into out. A missing file is a first start:
//  returns 0 with *found false. Returns -1 with a message naming the file
//  in err when it cannot be read or is not valid.
int hrb_view_file_load (const char *path, const hr_cluster_t *cluster,
                        hrb_view_durable_t *out, bool *found, hr_buf_t *err);

//  Writes durable to path (temporary file, fsync, rename, fsync of the
//  directory). Returns -1 with a reason in err; then the old file stays.
int hrb_view_file_save (const char *path, const hr_cluster_t *cluster,
                        const hrb_view_durable_t *durable, hr_buf_t *err);

#endif
