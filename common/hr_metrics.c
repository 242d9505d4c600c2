/*  hr_metrics: registry, per-thread shards, Prometheus rendering.  */
#include "hr_metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;                 //  family name
    char *help;
    char *label;                //  NULL when unlabelled
    char *label_value;
    hr_metric_type_t type;
    bool first;                 //  first series of its family: prints HELP/TYPE
} s_series_t;

struct _hr_metrics_t {
    pthread_mutex_t mutex;      //  guards series count and the shard list
    s_series_t series [HR_METRICS_MAX];
    int count;
    hr_metrics_shard_t **shards;
    int shard_count;
};

hr_metrics_t *
hr_metrics_new (void)
{
    hr_metrics_t *self = hr_calloc (1, sizeof *self);
    pthread_mutex_init (&self->mutex, NULL);
    return self;
}

void
hr_metrics_destroy (hr_metrics_t **self_p)
{
    hr_metrics_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->count; i++) {
        free (self->series [i].name);
        free (self->series [i].help);
        free (self->series [i].label);
        free (self->series [i].label_value);
    }
    for (int i = 0; i < self->shard_count; i++)
        free (self->shards [i]);
    free (self->shards);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

static int
s_find (hr_metrics_t *self, const char *name, const char *label_value)
{
    for (int i = 0; i < self->count; i++)
        if (strcmp (self->series [i].name, name) == 0
        &&  ((!label_value && !self->series [i].label_value)
          || (label_value && self->series [i].label_value
              && strcmp (label_value, self->series [i].label_value) == 0)))
            return i;
    return -1;
}

int
hr_metrics_add_labeled (hr_metrics_t *self, const char *name, hr_metric_type_t type,
                        const char *help, const char *label,
                        const char *const *values, int count)
{
    pthread_mutex_lock (&self->mutex);
    int id = s_find (self, name, label? values [0]: NULL);
    if (id < 0 && self->count + count <= HR_METRICS_MAX) {
        id = self->count;
        for (int i = 0; i < count; i++) {
            s_series_t *series = &self->series [self->count++];
            series->name = hr_strdup (name);
            series->help = hr_strdup (help);
            series->label = label? hr_strdup (label): NULL;
            series->label_value = label? hr_strdup (values [i]): NULL;
            series->type = type;
            series->first = i == 0;
        }
    }
    pthread_mutex_unlock (&self->mutex);
    return id;
}

int
hr_metrics_add (hr_metrics_t *self, const char *name, hr_metric_type_t type,
                const char *help)
{
    return hr_metrics_add_labeled (self, name, type, help, NULL, NULL, 1);
}

hr_metrics_shard_t *
hr_metrics_shard (hr_metrics_t *self)
{
    hr_metrics_shard_t *shard = hr_calloc (1, sizeof *shard);
    pthread_mutex_lock (&self->mutex);
    self->shards = realloc (self->shards, (size_t) (self->shard_count + 1) * sizeof *self->shards);
    if (!self->shards)
        abort ();
    self->shards [self->shard_count++] = shard;
    pthread_mutex_unlock (&self->mutex);
    return shard;
}

static int64_t
s_sum (hr_metrics_t *self, int id)
{
    uint64_t total = 0;
    for (int i = 0; i < self->shard_count; i++)
        total += atomic_load_explicit (&self->shards [i]->values [id], memory_order_relaxed);
    return (int64_t) total;
}

int64_t
hr_metrics_value (hr_metrics_t *self, int id)
{
    pthread_mutex_lock (&self->mutex);
    int64_t value = id >= 0 && id < self->count? s_sum (self, id): 0;
    pthread_mutex_unlock (&self->mutex);
    return value;
}

void
hr_metrics_render (hr_metrics_t *self, hr_buf_t *out)
{
    pthread_mutex_lock (&self->mutex);
    for (int id = 0; id < self->count; id++) {
        s_series_t *series = &self->series [id];
        if (series->first)
            hr_buf_printf (out, "# HELP %s %s\n# TYPE %s %s\n", series->name,
                           series->help, series->name,
                           series->type == HR_METRIC_COUNTER? "counter": "gauge");
        if (series->label)
            hr_buf_printf (out, "%s{%s=\"%s\"} %lld\n", series->name, series->label,
                           series->label_value, (long long) s_sum (self, id));
        else
            hr_buf_printf (out, "%s %lld\n", series->name, (long long) s_sum (self, id));
    }
    pthread_mutex_unlock (&self->mutex);
}
