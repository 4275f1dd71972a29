/*
 * inval.c — the kernel-invalidation thread. Dropping an inode's cached
 * pages (fuse_lowlevel_notify_inval_inode with data) makes the kernel lock
 * the inode's pages: a request handler that did it could wait for a page
 * that a READ in flight on the same inode holds locked until that very
 * handler's thread pool answers (libfuse documents the deadlock), and a
 * killed daemon stuck in such a call cannot exit. So handlers only queue an
 * inode number here, holding no lock but the queue's (a leaf), and this one
 * thread sends the notifications with no lock held at all.
 *
 * Nothing depends on a notification arriving: an open lets the kernel keep
 * its pages only when the cell is exactly the version those pages hold
 * (ofile.c). Even from this thread each notification is a window in which
 * a kill -9 leaves the daemon waiting uninterruptibly in the kernel (for a
 * page a READ in flight holds) until its connection is aborted, so they are
 * kept for what the kernel cannot see and an open cannot fix: a cell found
 * changed behind the kernel's back while descriptors may still read its
 * cached pages. The queue is bounded; when it is full an invalidation is
 * dropped (counted), which costs memory in the kernel, not correctness.
 *
 * Stopping: the thread may sit in the kernel waiting for a page that a
 * READ nobody will answer any more holds locked (the loop has ended). Then
 * it is left behind (detached, its queue leaked on purpose) instead of
 * joined: closing the session aborts the connection, which ends that READ
 * and lets the call return, and the thread exits without touching anything
 * but its queue.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs.h"

#define HRFS_INVAL_Q 256

struct hrfs_inval {
	pthread_mutex_t mu;	/* everything below */
	pthread_cond_t cv;
	pthread_t thr;
	int stop;
	int busy;		/* inside a notification call */
	/* an inode's pages and attributes (name NULL), or the entry name
	 * (malloc'd) in directory ino */
	struct {
		uint64_t ino;
		char *name;
	} q[HRFS_INVAL_Q];
	size_t head, n;
	uint64_t sent, dropped;
};

static void *inval_main(void *arg)
{
	struct hrfs *fs = arg;
	struct hrfs_inval *iv = fs->inval;
	struct fuse_session *se = fs->se;
	pthread_mutex_lock(&iv->mu);
	for (;;) {
		while (!iv->stop && iv->n == 0)
			pthread_cond_wait(&iv->cv, &iv->mu);
		if (iv->stop)
			break;
		uint64_t ino = iv->q[iv->head].ino;
		char *name = iv->q[iv->head].name;
		iv->q[iv->head].name = NULL;
		iv->head = (iv->head + 1) % HRFS_INVAL_Q;
		iv->n--;
		iv->busy = 1;
		iv->sent++;
		atomic_fetch_add(&fs->ctr.inval_sent, 1);
		pthread_mutex_unlock(&iv->mu);
		/* offset 0, length 0: every page, and the attributes. -ENOENT:
		 * the kernel no longer has the inode, nothing to drop. An entry:
		 * the kernel forgets the name, and below a directory every name
		 * it cached there, negative ones included. */
		int rc = name ? fuse_lowlevel_notify_inval_entry(se, ino, name, strlen(name))
			      : fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
		free(name);
		pthread_mutex_lock(&iv->mu);
		iv->busy = 0;
		if (iv->stop)
			break; /* maybe left behind: fs may be gone */
		if (rc < 0 && rc != -ENOENT)
			hr_log_debug("fs", "invalidate ino %llu: %s", (unsigned long long)ino,
				     strerror(-rc));
	}
	pthread_mutex_unlock(&iv->mu);
	return NULL;
}

int hrfs_inval_start(struct hrfs *fs)
{
	struct hrfs_inval *iv = calloc(1, sizeof(*iv));
	if (!iv)
		return -ENOMEM;
	pthread_mutex_init(&iv->mu, NULL);
	pthread_cond_init(&iv->cv, NULL);
	fs->inval = iv;
	int rc = pthread_create(&iv->thr, NULL, inval_main, fs);
	if (rc != 0) {
		fs->inval = NULL;
		pthread_cond_destroy(&iv->cv);
		pthread_mutex_destroy(&iv->mu);
		free(iv);
		return -rc;
	}
	return 0;
}

void hrfs_inval_stop(struct hrfs *fs)
{
	struct hrfs_inval *iv = fs->inval;
	if (!iv)
		return;
	fs->inval = NULL;
	pthread_mutex_lock(&iv->mu);
	iv->stop = 1;
	int busy = iv->busy;
	uint64_t dropped = iv->dropped;
	pthread_cond_signal(&iv->cv);
	pthread_mutex_unlock(&iv->mu);
	if (dropped)
		hr_log_info("fs", "%llu page-cache invalidations dropped (queue full)",
			    (unsigned long long)dropped);
	if (busy) {
		/* in the kernel: see the top of this file */
		pthread_detach(iv->thr);
		return;
	}
	pthread_join(iv->thr, NULL);
	for (size_t i = 0; i < iv->n; i++)
		free(iv->q[(iv->head + i) % HRFS_INVAL_Q].name);
	pthread_cond_destroy(&iv->cv);
	pthread_mutex_destroy(&iv->mu);
	free(iv);
}

static void queue(struct hrfs *fs, uint64_t ino, const char *name)
{
	struct hrfs_inval *iv = fs->inval;
	if (!iv)
		return; /* not mounted (yet): the kernel caches nothing */
	pthread_mutex_lock(&iv->mu);
	for (size_t i = 0; i < iv->n; i++) {
		size_t k = (iv->head + i) % HRFS_INVAL_Q;
		if (iv->q[k].ino == ino && (name ? iv->q[k].name && strcmp(iv->q[k].name, name) == 0
					       : !iv->q[k].name))
			goto out; /* already queued */
	}
	char *copy = name ? strdup(name) : NULL;
	if (iv->n == HRFS_INVAL_Q || (name && !copy)) {
		free(copy);
		iv->dropped++;
		atomic_fetch_add(&fs->ctr.inval_dropped, 1);
		goto out;
	}
	iv->q[(iv->head + iv->n) % HRFS_INVAL_Q].ino = ino;
	iv->q[(iv->head + iv->n) % HRFS_INVAL_Q].name = copy;
	iv->n++;
	pthread_cond_signal(&iv->cv);
out:
	pthread_mutex_unlock(&iv->mu);
}

void hrfs_inval_queue(struct hrfs *fs, uint64_t ino) { queue(fs, ino, NULL); }

void hrfs_inval_entry_queue(struct hrfs *fs, uint64_t parent, const char *name)
{
	queue(fs, parent, name);
}
