/* tests/plugins/quirk_pipes_threads.h: the end threads of quirk_pipes.c's
 * HANDOFF, FETCH and PUSH kinds, which move an end's frames on a thread of
 * their own while the caller's thread waits for the verdict:
 *
 *   handoff_start(e); handoff_send(e, buf, len, deadline); handoff_stop(e);
 *   worker_start(e);  worker_call(e, buf, len, &moved, deadline); worker_stop(e);
 *
 * Included once, by quirk_pipes.c, after its types and frame functions
 * (frame_send, frame_recv), which these use; every function is static, as
 * in quirk_util.h, so each transport carries its own copy.
 */
#ifndef IPCSPEC_TESTS_PLUGINS_QUIRK_PIPES_THREADS_H_
#define IPCSPEC_TESTS_PLUGINS_QUIRK_PIPES_THREADS_H_

#if defined(QK_HANDOFF) || defined(QK_WORKER)
/* An end's thread (HANDOFF, FETCH, PUSH), started with every signal blocked:
   a signal meant for the process goes to its own threads, never to this
   one. Its condition variable times waits on CLOCK_MONOTONIC. */
static int end_thread_start(end* e, void* (*fn)(void*)) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cv, &ca);
  pthread_condattr_destroy(&ca);
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  const int rc = pthread_create(&e->thread, NULL, fn, e);
  pthread_sigmask(SIG_SETMASK, &before, NULL);
  if (rc != 0) {
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    return -1;
  }
  e->has_thread = 1;
  return 0;
}

/* Tells the thread to stop, joins it. */
static void end_thread_stop(end* e) {
  if (!e->has_thread) return;
  pthread_mutex_lock(&e->mu);
  e->stop = 1;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  pthread_join(e->thread, NULL);
  pthread_cond_destroy(&e->cv);
  pthread_mutex_destroy(&e->mu);
  e->has_thread = 0;
}
#endif

#if defined(QK_HANDOFF)
/* The writer's thread: writes each job's frame by the job's deadline,
   frees the job and tells the sender the verdict. */
static void* handoff_thread(void* v) {
  end* e = v;
  pthread_mutex_lock(&e->mu);
  for (;;) {
    while (e->pending == NULL && !e->stop) pthread_cond_wait(&e->cv, &e->mu);
    if (e->pending == NULL) break;
    job* j = e->pending;
    pthread_mutex_unlock(&e->mu);
    const int rc = frame_send(e->out, j->data, j->len, j->deadline);
#ifdef QUIRK_BROKEN
    if (rc == 0) free(j); /* the bug: a refused job is never freed */
#else
    free(j);
#endif
    pthread_mutex_lock(&e->mu);
    e->pending = NULL;
    e->rc = rc;
    e->done = 1;
    pthread_cond_broadcast(&e->cv);
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

/* Started with every signal blocked: a signal meant for the process goes
   to its own threads, never to this one. */
static int handoff_start(end* e) { return end_thread_start(e, handoff_thread); }

static void handoff_stop(end* e) { end_thread_stop(e); }

/* One message through the thread: 0 once its frame is in the pipe. */
static int handoff_send(end* e, const void* buf, size_t len, int64_t deadline) {
  job* j = malloc(sizeof *j + len);
  if (j == NULL) return -ENOMEM;
  j->deadline = deadline;
  j->len = len;
  if (len > 0) memcpy(j->data, buf, len);
  pthread_mutex_lock(&e->mu);
  e->pending = j;
  e->done = 0;
  pthread_cond_broadcast(&e->cv);
  while (!e->done) pthread_cond_wait(&e->cv, &e->mu);
  const int rc = e->rc;
  pthread_mutex_unlock(&e->mu);
  return rc;
}
#endif

#if defined(QK_WORKER)
enum { W_IDLE, W_ASKED, W_BUSY, W_DONE };

/* The end's thread: for each request, waits until its frame can move (in
   or out) or the request is withdrawn, and moves it: reads the next frame
   into the caller's buffer, or writes the caller's. */
static void* worker_thread(void* v) {
  end* e = v;
  const int writing = e->role == IPCSPEC_WRITER;
  pthread_mutex_lock(&e->mu);
  for (;;) {
    while (e->work != W_ASKED && !e->stop) pthread_cond_wait(&e->cv, &e->mu);
    if (e->stop) break;
    pthread_mutex_unlock(&e->mu);
    struct pollfd p[2] = {{writing ? e->out : e->in, writing ? POLLOUT : POLLIN, 0},
                          {e->cancel, POLLIN, 0}};
    const int n = poll(p, 2, -1);
    pthread_mutex_lock(&e->mu);
    uint64_t rings;
    if (n > 0 && (p[1].revents & POLLIN) != 0) (void)!read(e->cancel, &rings, sizeof rings);
    if (e->stop) break;
    if (n <= 0 || e->work != W_ASKED || p[0].revents == 0)
      continue; /* withdrawn, or a stale ring */
    e->work = W_BUSY;
    pthread_mutex_unlock(&e->mu);
    size_t got = 0;
    const int rc = writing ? frame_send(e->out, e->buf, e->cap, 0)
                           : frame_recv(e->in, e->buf, e->cap, &got, 0);
    pthread_mutex_lock(&e->mu);
    e->work = rc == -EAGAIN ? W_ASKED : W_DONE;
    e->rc = rc;
    e->got = writing ? e->cap : got;
    pthread_cond_broadcast(&e->cv);
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

static int worker_start(end* e) {
  e->cancel = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (e->cancel < 0) return -1;
  if (end_thread_start(e, worker_thread) == 0) return 0;
  qk_close(&e->cancel);
  return -1;
}

static void worker_stop(end* e) {
  if (e->has_thread) {
    const uint64_t one = 1; /* wakes the thread's poll */
    (void)!write(e->cancel, &one, sizeof one);
  }
  end_thread_stop(e);
  qk_close(&e->cancel);
}

/* A receive or send through the thread (`buf` and `len`: the caller's
   buffer and its size); one that does not block moves the frame itself (no
   request is outstanding between calls). */
static int worker_call(end* e, void* buf, size_t len, size_t* moved, int64_t deadline) {
  if (deadline == 0) {
    if (e->role == IPCSPEC_READER) return frame_recv(e->in, buf, len, moved, 0);
    const int rc = frame_send(e->out, buf, len, 0);
    if (rc == 0) *moved = len;
    return rc;
  }
  const struct timespec until = {deadline / 1000000000, deadline % 1000000000};
  pthread_mutex_lock(&e->mu);
  e->buf = buf;
  e->cap = len;
  e->work = W_ASKED;
  pthread_cond_broadcast(&e->cv);
  int timed_out = 0;
  while (!timed_out && (e->work == W_ASKED || e->work == W_BUSY)) {
    if (deadline < 0)
      pthread_cond_wait(&e->cv, &e->mu);
    else
      timed_out = pthread_cond_timedwait(&e->cv, &e->mu, &until) == ETIMEDOUT;
  }
  if (timed_out) { /* withdraw the request; the thread may have begun meanwhile */
    pthread_mutex_unlock(&e->mu);
    const uint64_t one = 1;
    (void)!write(e->cancel, &one, sizeof one);
    pthread_mutex_lock(&e->mu);
    while (e->work == W_BUSY) pthread_cond_wait(&e->cv, &e->mu);
#ifdef QUIRK_BROKEN
    e->work = W_IDLE; /* the bug: a frame the thread moved meanwhile is not reported */
#endif
  }
  int rc = -ETIMEDOUT;
  if (e->work == W_DONE) {
    rc = e->rc;
    if (rc == 0) *moved = e->got;
  }
  e->work = W_IDLE;
  pthread_mutex_unlock(&e->mu);
  return rc;
}
#endif

#endif /* IPCSPEC_TESTS_PLUGINS_QUIRK_PIPES_THREADS_H_ */
