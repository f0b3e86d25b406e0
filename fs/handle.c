/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handles open on nodes (node.h): what fi->fh points to, counted on their
 * node so that it lives while they do, and pinned by requests that come
 * without one. Part of the node table: its fields are protected by
 * table_lock (table.h).
 */
#include "node.h"
#include "table.h"

#include <stdlib.h>
#include <unistd.h>

static struct handle *all_handles; /* protected by table_lock */

struct handle *handle_new(enum handle_kind kind)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (h) {
		h->kind = kind;
		h->fd = -1;
		h->fd_other = -1;
	}
	return h;
}

bool node_content_open(struct node *n, uint64_t d)
{
	bool same;

	pthread_mutex_lock(&table_lock);
	same = n->content == d;
	n->content = d;
	pthread_mutex_unlock(&table_lock);
	return same;
}

void node_content_read(struct node *n, uint64_t d)
{
	pthread_mutex_lock(&table_lock);
	if (n->content != d)
		n->content = 0;
	pthread_mutex_unlock(&table_lock);
}

void node_handle_add(struct node *n, struct handle *h)
{
	pthread_mutex_lock(&table_lock);
	h->node = n;
	n->refs++;
	h->next = n->handles;
	n->handles = h;
	h->all_prev = NULL;
	h->all_next = all_handles;
	if (all_handles)
		all_handles->all_prev = h;
	all_handles = h;
	pthread_mutex_unlock(&table_lock);
}

bool node_handle_release(struct handle *h)
{
	struct node *n = h->node;
	struct handle **p;
	bool free_now;

	pthread_mutex_lock(&table_lock);
	for (p = &n->handles; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	if (h->all_prev)
		h->all_prev->all_next = h->all_next;
	else if (all_handles == h)
		all_handles = h->all_next;
	if (h->all_next)
		h->all_next->all_prev = h->all_prev;
	h->released = true;
	free_now = h->pins == 0;
	table_put(n);
	pthread_mutex_unlock(&table_lock);
	return free_now;
}

struct handle *node_handle_pin(struct node *n, enum handle_kind kind)
{
	struct handle *h;

	pthread_mutex_lock(&table_lock);
	/* H_FILE: any handle with a backing descriptor (an open file or directory). */
	for (h = n->handles; h && h->kind != kind && !(kind == H_FILE && h->kind == H_DIR);
	     h = h->next)
		;
	if (h)
		h->pins++;
	pthread_mutex_unlock(&table_lock);
	return h;
}

void handle_free(struct handle *h)
{
	if (h->kind == H_OVERLAY)
		ovl_release(h->ovf);
	else if (h->fd >= 0)
		close(h->fd);
	if (h->fd_other >= 0)
		close(h->fd_other);
	free(h->dir);
	free(h->view);
	free(h);
}

void handle_hold(struct handle *h)
{
	pthread_mutex_lock(&table_lock);
	h->pins++;
	pthread_mutex_unlock(&table_lock);
}

void handle_unpin(struct handle *h)
{
	bool free_now;

	pthread_mutex_lock(&table_lock);
	free_now = --h->pins == 0 && h->released;
	pthread_mutex_unlock(&table_lock);
	if (free_now)
		handle_free(h);
}

struct handle *handle_pin_writer(struct node *n)
{
	struct handle *pin = node_handle_pin(n, H_OVERLAY);

	if (pin && !ovl_writes(pin->ovf)) {
		handle_unpin(pin);
		pin = NULL;
	}
	return pin;
}

void handles_free_all(void)
{
	pthread_mutex_lock(&table_lock);
	while (all_handles) {
		struct handle *h = all_handles;

		all_handles = h->all_next;
		handle_free(h);
	}
	pthread_mutex_unlock(&table_lock);
}
