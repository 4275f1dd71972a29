/* mvcc.c — a region's write queue and read point (contract in hr_region.h).
 * The seq is taken under mvcc.mu so the queue is in seq order; the read point
 * moves only over a finished prefix, so a reader never sees a later write
 * while an earlier one of the same region is still half applied. */
#include "engine/hr_region.h"

void hr_mvcc_init(hr_mvcc *m, uint64_t read_point)
{
	pthread_mutex_init(&m->mu, NULL);
	atomic_init(&m->read_point, read_point);
	m->head = m->tail = NULL;
}

void hr_mvcc_destroy(hr_mvcc *m)
{
	pthread_mutex_destroy(&m->mu);
}

void hr_mvcc_begin(hr_mvcc *m, atomic_uint_fast64_t *seq_counter, hr_mvcc_entry *e)
{
	pthread_mutex_lock(&m->mu);
	e->seq = atomic_fetch_add(seq_counter, 1) + 1;
	e->done = 0;
	e->visible = 0;
	e->next = NULL;
	pthread_cond_init(&e->cond, NULL);
	if (m->tail)
		m->tail->next = e;
	else
		m->head = e;
	m->tail = e;
	pthread_mutex_unlock(&m->mu);
}

void hr_mvcc_complete(hr_mvcc *m, hr_mvcc_entry *e)
{
	pthread_mutex_lock(&m->mu);
	e->done = 1;
	while (m->head && m->head->done) {
		hr_mvcc_entry *h = m->head;
		atomic_store(&m->read_point, h->seq);
		h->visible = 1;
		m->head = h->next;
		if (h != e)
			pthread_cond_signal(&h->cond);
	}
	if (!m->head)
		m->tail = NULL;
	/* Earlier writers are between their WAL append and memstore insert:
	 * they finish without waiting on us, so this wait always ends. */
	while (!e->visible)
		pthread_cond_wait(&e->cond, &m->mu);
	pthread_mutex_unlock(&m->mu);
	pthread_cond_destroy(&e->cond);
}

uint64_t hr_mvcc_min_inflight(hr_mvcc *m)
{
	pthread_mutex_lock(&m->mu);
	uint64_t s = m->head ? m->head->seq : UINT64_MAX;
	pthread_mutex_unlock(&m->mu);
	return s;
}
