// lazyfs: a FUSE file system that loses what was not fsynced, on command. The "second opinion
// below the page cache" of issue #16, after the idea of Jepsen's LazyFS and of LevelDB's
// fault_injection_test (our own code for this lab; nothing of either is used).
//
// The whole tree lives in this process's memory in two versions:
//   - the current one, which every write, truncate, create, mkdir, rename and unlink changes at
//     once: what processes see (the page cache and dentry cache of a real kernel), and
//   - the durable one: for each file its bytes as of its last fsync/fdatasync (or as of each
//     write when it was opened O_SYNC/O_DSYNC); for each directory its entries as of its last
//     fsync.
// Only the durable version is written to the backing directory. The command `drop` on the
// control socket replaces the current version with the durable one, as a power cut would; an
// unmount does the same, since nothing unsynced ever reached the backing directory. So: data
// written but not synced is gone; a file created or renamed into a directory that was not
// fsynced afterwards disappears or reverts (an unlink comes undone); a file whose name is durable
// but whose data never was comes back empty.
//
// The kernel holds nothing either: files are opened direct_io (no page cache, every read and
// write reaches this process), and attributes and entries are not cached (timeouts 0).
//
// Build: cc -O2 -Wall lazyfs.c $(pkg-config fuse3 --cflags --libs) -o lazyfs
// Usage: lazyfs --backing DIR --control SOCKET MOUNTPOINT   (as root, or a user allowed to mount
// FUSE). Runs in the foreground until unmounted (fusermount3 -u MOUNTPOINT, umount, or SIGTERM).
// Control: connect to the Unix socket, send one line, read one line of JSON back (from a shell:
// lazyfs --control SOCKET --send drop):
//   ping   {"ok":true}
//   stats  {"ok":true,"writes":n,"fsyncs":n,"dirSyncs":n,"drops":n,"dirtyFiles":n,"dirtyBytes":n,"dirtyDirs":n}
//   drop   {"ok":true,"droppedFiles":n,"droppedBytes":n,"revertedDirs":n}
// Limits: regular files and directories only (no symlinks, hard links, xattrs; mmap is refused by
// direct_io); the tree is loaded into memory at mount and nodes are never freed, so it is meant for
// test-sized data; the backing directory is written without fsync (this process is the disk).
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct node node;
typedef struct {
  char *name;
  node *child;
} entry;
typedef struct {
  entry *items;
  size_t len, cap;
} entries;

struct node {
  int is_dir;
  mode_t mode;
  ino_t ino;
  struct timespec atime, mtime, ctime;
  unsigned long mark; // walk generation, so that a node reachable twice is visited once
  // files
  char *data;
  size_t size, cap;
  char *synced; // bytes as of the last sync (NULL and ever_synced 0: comes back empty)
  size_t synced_size;
  int ever_synced;
  int dirty;          // changed since the last sync
  size_t dirty_from;  // lowest offset changed since the last sync
  // directories
  entries cur, durable;
};

typedef struct {
  node *n;
  int flags;
} handle;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static node *root;
static char backing[PATH_MAX];
static ino_t next_ino = 2;
static unsigned long generation;
static unsigned long n_writes, n_fsyncs, n_dir_syncs, n_drops;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) die("realloc");
  return q;
}

static node *new_node(int is_dir, mode_t mode, ino_t ino) {
  node *n = calloc(1, sizeof(node));
  if (!n) die("calloc");
  n->is_dir = is_dir;
  n->mode = (is_dir ? S_IFDIR : S_IFREG) | (mode & 07777);
  n->ino = ino ? ino : next_ino++;
  clock_gettime(CLOCK_REALTIME, &n->mtime);
  n->atime = n->ctime = n->mtime;
  return n;
}

// ---- entry lists ----------------------------------------------------------------------
static ssize_t find(const entries *e, const char *name) {
  for (size_t i = 0; i < e->len; i++)
    if (strcmp(e->items[i].name, name) == 0) return (ssize_t)i;
  return -1;
}

static node *lookup(const entries *e, const char *name) {
  ssize_t i = find(e, name);
  return i < 0 ? NULL : e->items[i].child;
}

static void put(entries *e, const char *name, node *child) {
  ssize_t i = find(e, name);
  if (i >= 0) {
    e->items[i].child = child;
    return;
  }
  if (e->len == e->cap) {
    e->cap = e->cap ? e->cap * 2 : 8;
    e->items = xrealloc(e->items, e->cap * sizeof(entry));
  }
  e->items[e->len].name = strdup(name);
  e->items[e->len].child = child;
  e->len++;
}

static void del(entries *e, const char *name) {
  ssize_t i = find(e, name);
  if (i < 0) return;
  free(e->items[i].name);
  e->items[i] = e->items[e->len - 1];
  e->len--;
}

static void copy_entries(entries *to, const entries *from) {
  for (size_t i = 0; i < to->len; i++) free(to->items[i].name);
  to->len = 0;
  for (size_t i = 0; i < from->len; i++) put(to, from->items[i].name, from->items[i].child);
}

static int same_entries(const entries *a, const entries *b) {
  if (a->len != b->len) return 0;
  for (size_t i = 0; i < a->len; i++)
    if (lookup(b, a->items[i].name) != a->items[i].child) return 0;
  return 1;
}

// ---- the current tree -----------------------------------------------------------------
static int resolve(const char *path, node **out) {
  node *n = root;
  char part[NAME_MAX + 1];
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    const char *end = strchrnul(p, '/');
    size_t len = (size_t)(end - p);
    if (len > NAME_MAX) return -ENAMETOOLONG;
    if (!n->is_dir) return -ENOTDIR;
    memcpy(part, p, len);
    part[len] = 0;
    n = lookup(&n->cur, part);
    if (!n) return -ENOENT;
    p = end;
  }
  *out = n;
  return 0;
}

// Splits path into its parent directory node and last name.
static int parent_of(const char *path, node **parent, char *name) {
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path);
  size_t len = strlen(copy);
  while (len > 1 && copy[len - 1] == '/') copy[--len] = 0;
  char *slash = strrchr(copy, '/');
  if (!slash || !slash[1]) return -EINVAL;
  if (strlen(slash + 1) > NAME_MAX) return -ENAMETOOLONG;
  strcpy(name, slash + 1);
  if (slash == copy)
    copy[1] = 0;
  else
    *slash = 0;
  int err = resolve(copy, parent);
  if (err) return err;
  return (*parent)->is_dir ? 0 : -ENOTDIR;
}

static void touch(node *n) {
  clock_gettime(CLOCK_REALTIME, &n->mtime);
  n->ctime = n->mtime;
}

static void mark_dirty(node *n, size_t from) {
  if (!n->dirty || from < n->dirty_from) n->dirty_from = from;
  n->dirty = 1;
  touch(n);
}

static void set_size(node *n, size_t size) {
  if (size > n->cap) {
    n->cap = size + size / 2 + 4096;
    n->data = xrealloc(n->data, n->cap);
  }
  if (size > n->size) memset(n->data + n->size, 0, size - n->size);
  size_t from = size < n->size ? size : n->size;
  n->size = size;
  mark_dirty(n, from);
}

// ---- durability -----------------------------------------------------------------------
typedef struct {
  char **items;
  size_t len;
} paths;

static void durable_paths_walk(node *n, const char *path, node *target, paths *out) {
  if (n == target) {
    out->items = xrealloc(out->items, (out->len + 1) * sizeof(char *));
    out->items[out->len++] = strdup(path);
  }
  if (!n->is_dir) return;
  for (size_t i = 0; i < n->durable.len; i++) {
    char child[PATH_MAX];
    snprintf(child, sizeof child, "%s/%s", path, n->durable.items[i].name);
    durable_paths_walk(n->durable.items[i].child, child, target, out);
  }
}

// The backing paths whose durable entries name `target` (a rename synced on one side only
// can leave two).
static paths durable_paths(node *target) {
  paths out = {0};
  durable_paths_walk(root, backing, target, &out);
  return out;
}

static void free_paths(paths *p) {
  for (size_t i = 0; i < p->len; i++) free(p->items[i]);
  free(p->items);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void remove_backing(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode))
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  else
    unlink(path);
}

static void write_all(const char *path, const char *buf, size_t len, size_t at) {
  int fd = open(path, O_WRONLY | O_CREAT, 0644);
  if (fd < 0) die(path);
  size_t done = 0;
  while (done < len) {
    ssize_t w = pwrite(fd, buf + done, len - done, (off_t)(at + done));
    if (w < 0) die("pwrite");
    done += (size_t)w;
  }
  if (ftruncate(fd, (off_t)(at + len)) != 0) die("ftruncate");
  close(fd);
}

static void materialize(node *n, const char *path) {
  remove_backing(path);
  if (n->is_dir) {
    if (mkdir(path, n->mode & 07777) != 0) die(path);
    for (size_t i = 0; i < n->durable.len; i++) {
      char child[PATH_MAX];
      snprintf(child, sizeof child, "%s/%s", path, n->durable.items[i].name);
      materialize(n->durable.items[i].child, child);
    }
  } else {
    write_all(path, n->synced, n->synced_size, 0);
    chmod(path, n->mode & 07777);
  }
}

static void sync_file(node *n) {
  n_fsyncs++;
  if (!n->dirty && n->ever_synced) return;
  size_t start = n->ever_synced ? n->dirty_from : 0;
  if (start > n->size) start = n->size;
  n->synced = xrealloc(n->synced, n->size);
  memcpy(n->synced + start, n->data + start, n->size - start);
  n->synced_size = n->size;
  n->ever_synced = 1;
  n->dirty = 0;
  // Each backing file holds the previous synced bytes: rewrite from the first change.
  paths ps = durable_paths(n);
  for (size_t i = 0; i < ps.len; i++) write_all(ps.items[i], n->synced + start, n->size - start, start);
  free_paths(&ps);
}

static void sync_dir(node *n) {
  n_dir_syncs++;
  entries previous = {0};
  copy_entries(&previous, &n->durable);
  copy_entries(&n->durable, &n->cur);
  paths ps = durable_paths(n);
  for (size_t p = 0; p < ps.len; p++) {
    char child[PATH_MAX];
    for (size_t i = 0; i < previous.len; i++) {
      if (lookup(&n->durable, previous.items[i].name) == previous.items[i].child) continue;
      snprintf(child, sizeof child, "%s/%s", ps.items[p], previous.items[i].name);
      remove_backing(child);
    }
    for (size_t i = 0; i < n->durable.len; i++) {
      if (lookup(&previous, n->durable.items[i].name) == n->durable.items[i].child) continue;
      snprintf(child, sizeof child, "%s/%s", ps.items[p], n->durable.items[i].name);
      materialize(n->durable.items[i].child, child);
    }
  }
  free_paths(&ps);
  for (size_t i = 0; i < previous.len; i++) free(previous.items[i].name);
  free(previous.items);
}

typedef struct {
  unsigned long files, bytes, dirs;
} dirt;

static void count_dirt(node *n, dirt *d) {
  if (n->mark == generation) return;
  n->mark = generation;
  if (n->is_dir) {
    if (!same_entries(&n->cur, &n->durable)) d->dirs++;
    for (size_t i = 0; i < n->cur.len; i++) count_dirt(n->cur.items[i].child, d);
    for (size_t i = 0; i < n->durable.len; i++) count_dirt(n->durable.items[i].child, d);
  } else if (n->dirty || !n->ever_synced) {
    d->files++;
    size_t from = n->ever_synced ? n->dirty_from : 0;
    d->bytes += n->size > from ? n->size - from : 0;
  }
}

static dirt dirty_now(void) {
  dirt d = {0};
  generation++;
  count_dirt(root, &d);
  return d;
}

static void revert(node *n) {
  if (n->mark == generation) return;
  n->mark = generation;
  if (n->is_dir) {
    copy_entries(&n->cur, &n->durable);
    for (size_t i = 0; i < n->cur.len; i++) revert(n->cur.items[i].child);
  } else {
    n->size = 0;
    n->dirty = 0;
    n->dirty_from = 0;
    if (n->synced_size > n->cap) {
      n->cap = n->synced_size;
      n->data = xrealloc(n->data, n->cap);
    }
    if (n->synced_size) memcpy(n->data, n->synced, n->synced_size);
    n->size = n->synced_size;
  }
}

// A power cut: the current tree becomes the durable one.
static dirt drop(void) {
  dirt d = dirty_now();
  n_drops++;
  generation++;
  revert(root);
  return d;
}

// ---- loading the backing directory at mount ---------------------------------------------
static node *load(const char *path, ino_t ino) {
  struct stat st;
  if (lstat(path, &st) != 0) die(path);
  node *n = new_node(S_ISDIR(st.st_mode), st.st_mode, ino);
  n->mtime = st.st_mtim;
  if (n->is_dir) {
    DIR *d = opendir(path);
    if (!d) die(path);
    struct dirent *de;
    while ((de = readdir(d))) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char child[PATH_MAX];
      snprintf(child, sizeof child, "%s/%s", path, de->d_name);
      struct stat cst;
      if (lstat(child, &cst) != 0 || !(S_ISDIR(cst.st_mode) || S_ISREG(cst.st_mode))) continue;
      node *c = load(child, 0);
      put(&n->cur, de->d_name, c);
      put(&n->durable, de->d_name, c);
    }
    closedir(d);
  } else {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die(path);
    n->cap = (size_t)st.st_size + 4096;
    n->data = xrealloc(NULL, n->cap);
    size_t got = 0;
    for (;;) {
      ssize_t r = read(fd, n->data + got, n->cap - got);
      if (r < 0) die("read");
      if (r == 0) break;
      got += (size_t)r;
      if (got == n->cap) {
        n->cap *= 2;
        n->data = xrealloc(n->data, n->cap);
      }
    }
    close(fd);
    n->size = got;
    n->synced = xrealloc(NULL, got);
    memcpy(n->synced, n->data, got);
    n->synced_size = got;
    n->ever_synced = 1;
  }
  return n;
}

// ---- FUSE operations ------------------------------------------------------------------
#define LOCKED(body)             \
  pthread_mutex_lock(&lock);     \
  int result_ = (body);          \
  pthread_mutex_unlock(&lock);   \
  return result_;

static node *handle_node(struct fuse_file_info *fi) {
  return fi && fi->fh ? ((handle *)(uintptr_t)fi->fh)->n : NULL;
}

static void fill_stat(node *n, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_mode = n->mode;
  st->st_ino = n->ino;
  st->st_uid = getuid();
  st->st_gid = getgid();
  st->st_atim = n->atime;
  st->st_mtim = n->mtime;
  st->st_ctim = n->ctime;
  st->st_blksize = 4096;
  if (n->is_dir) {
    st->st_nlink = 2;
    for (size_t i = 0; i < n->cur.len; i++) st->st_nlink += n->cur.items[i].child->is_dir;
    st->st_size = 4096;
  } else {
    st->st_nlink = 1;
    st->st_size = (off_t)n->size;
  }
  st->st_blocks = (st->st_size + 511) / 512;
}

static int do_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  node *n = handle_node(fi);
  if (!n) {
    int err = resolve(path, &n);
    if (err) return err;
  }
  fill_stat(n, st);
  return 0;
}
static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  LOCKED(do_getattr(path, st, fi))
}

static int do_readdir(const char *path, void *buf, fuse_fill_dir_t filler) {
  node *n;
  int err = resolve(path, &n);
  if (err) return err;
  if (!n->is_dir) return -ENOTDIR;
  struct stat st;
  fill_stat(n, &st);
  filler(buf, ".", &st, 0, 0);
  filler(buf, "..", &st, 0, 0);
  for (size_t i = 0; i < n->cur.len; i++) {
    fill_stat(n->cur.items[i].child, &st);
    if (filler(buf, n->cur.items[i].name, &st, 0, 0)) break;
  }
  return 0;
}
static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off, (void)fi, (void)flags;
  LOCKED(do_readdir(path, buf, filler))
}

static int do_make(const char *path, mode_t mode, int is_dir, node **made) {
  node *parent;
  char name[NAME_MAX + 1];
  int err = parent_of(path, &parent, name);
  if (err) return err;
  if (lookup(&parent->cur, name)) return -EEXIST;
  node *n = new_node(is_dir, mode, 0);
  put(&parent->cur, name, n);
  touch(parent);
  if (made) *made = n;
  return 0;
}
static int op_mknod(const char *path, mode_t mode, dev_t dev) {
  (void)dev;
  if (!S_ISREG(mode)) return -EPERM;
  LOCKED(do_make(path, mode, 0, NULL))
}
static int op_mkdir(const char *path, mode_t mode) { LOCKED(do_make(path, mode, 1, NULL)) }

static int do_remove(const char *path, int want_dir) {
  node *parent;
  char name[NAME_MAX + 1];
  int err = parent_of(path, &parent, name);
  if (err) return err;
  node *n = lookup(&parent->cur, name);
  if (!n) return -ENOENT;
  if (want_dir && !n->is_dir) return -ENOTDIR;
  if (!want_dir && n->is_dir) return -EISDIR;
  if (want_dir && n->cur.len) return -ENOTEMPTY;
  del(&parent->cur, name);
  touch(parent);
  return 0;
}
static int op_unlink(const char *path) { LOCKED(do_remove(path, 0)) }
static int op_rmdir(const char *path) { LOCKED(do_remove(path, 1)) }

static int contains(node *dir, node *target) {
  if (dir == target) return 1;
  if (!dir->is_dir) return 0;
  for (size_t i = 0; i < dir->cur.len; i++)
    if (contains(dir->cur.items[i].child, target)) return 1;
  return 0;
}

static int do_rename(const char *from, const char *to, unsigned int flags) {
  if (flags & ~RENAME_NOREPLACE) return -EINVAL;
  node *from_parent, *to_parent;
  char from_name[NAME_MAX + 1], to_name[NAME_MAX + 1];
  int err = parent_of(from, &from_parent, from_name);
  if (err) return err;
  err = parent_of(to, &to_parent, to_name);
  if (err) return err;
  node *n = lookup(&from_parent->cur, from_name);
  if (!n) return -ENOENT;
  node *target = lookup(&to_parent->cur, to_name);
  if (target == n) return 0;
  if (target) {
    if (flags & RENAME_NOREPLACE) return -EEXIST;
    if (target->is_dir && !n->is_dir) return -EISDIR;
    if (!target->is_dir && n->is_dir) return -ENOTDIR;
    if (target->is_dir && target->cur.len) return -ENOTEMPTY;
  }
  if (n->is_dir && contains(n, to_parent)) return -EINVAL;
  del(&from_parent->cur, from_name);
  put(&to_parent->cur, to_name, n);
  touch(from_parent);
  touch(to_parent);
  return 0;
}
static int op_rename(const char *from, const char *to, unsigned int flags) {
  LOCKED(do_rename(from, to, flags))
}

static int do_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  node *n = handle_node(fi);
  if (!n) {
    int err = resolve(path, &n);
    if (err) return err;
  }
  if (n->is_dir) return -EISDIR;
  if (size < 0) return -EINVAL;
  set_size(n, (size_t)size);
  return 0;
}
static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  LOCKED(do_truncate(path, size, fi))
}

static int do_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  node *n = handle_node(fi);
  if (!n) {
    int err = resolve(path, &n);
    if (err) return err;
  }
  n->mode = (n->mode & S_IFMT) | (mode & 07777);
  return 0;
}
static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  LOCKED(do_chmod(path, mode, fi))
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
  (void)path, (void)uid, (void)gid, (void)fi;
  return 0;
}

static int do_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  node *n = handle_node(fi);
  if (!n) {
    int err = resolve(path, &n);
    if (err) return err;
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if (tv[0].tv_nsec != UTIME_OMIT) n->atime = tv[0].tv_nsec == UTIME_NOW ? now : tv[0];
  if (tv[1].tv_nsec != UTIME_OMIT) n->mtime = tv[1].tv_nsec == UTIME_NOW ? now : tv[1];
  return 0;
}
static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  LOCKED(do_utimens(path, tv, fi))
}

static int do_open(const char *path, mode_t mode, int creating, struct fuse_file_info *fi) {
  node *n;
  int err = resolve(path, &n);
  if (err == -ENOENT && creating) {
    err = do_make(path, mode, 0, &n);
  } else if (!err && creating && (fi->flags & O_EXCL)) {
    return -EEXIST;
  }
  if (err) return err;
  if (n->is_dir) return -EISDIR;
  if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) set_size(n, 0);
  handle *h = malloc(sizeof(handle));
  if (!h) return -ENOMEM;
  h->n = n;
  h->flags = fi->flags;
  fi->fh = (uintptr_t)h;
  fi->direct_io = 1;
  fi->keep_cache = 0;
  return 0;
}
static int op_open(const char *path, struct fuse_file_info *fi) { LOCKED(do_open(path, 0, 0, fi)) }
static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  LOCKED(do_open(path, mode, 1, fi))
}

static int do_read(char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  node *n = handle_node(fi);
  if ((size_t)off >= n->size) return 0;
  size_t take = n->size - (size_t)off < len ? n->size - (size_t)off : len;
  memcpy(buf, n->data + off, take);
  return (int)take;
}
static int op_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  (void)path;
  LOCKED(do_read(buf, len, off, fi))
}

static int do_write(const char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  handle *h = (handle *)(uintptr_t)fi->fh;
  node *n = h->n;
  n_writes++;
  size_t at = (h->flags & O_APPEND) ? n->size : (size_t)off;
  if (at + len > n->size) set_size(n, at + len);
  memcpy(n->data + at, buf, len);
  mark_dirty(n, at);
  // O_SYNC and O_DSYNC: each write is durable before it returns (the kernel does not send an
  // fsync for direct_io writes, so the file system keeps the promise itself).
  if (h->flags & O_DSYNC) sync_file(n);
  return (int)len;
}
static int op_write(const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  (void)path;
  LOCKED(do_write(buf, len, off, fi))
}

static int do_fsync(struct fuse_file_info *fi) {
  sync_file(handle_node(fi));
  return 0;
}
static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path, (void)datasync;
  LOCKED(do_fsync(fi))
}

static int do_fsyncdir(const char *path) {
  node *n;
  int err = resolve(path, &n);
  if (err) return err;
  if (n->is_dir) sync_dir(n);
  return 0;
}
static int op_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)datasync, (void)fi;
  LOCKED(do_fsyncdir(path))
}

static int op_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  free((handle *)(uintptr_t)fi->fh);
  return 0;
}

static int op_flush(const char *path, struct fuse_file_info *fi) {
  (void)path, (void)fi;
  return 0;
}

static int op_statfs(const char *path, struct statvfs *st) {
  (void)path;
  return statvfs(backing, st) == 0 ? 0 : -errno;
}

static int op_access(const char *path, int mask) {
  (void)mask;
  node *n;
  LOCKED(resolve(path, &n))
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  cfg->direct_io = 1;
  cfg->kernel_cache = 0;
  cfg->use_ino = 1;
  cfg->hard_remove = 1;
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  return NULL;
}

static const struct fuse_operations ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .truncate = op_truncate,
    .chmod = op_chmod,
    .chown = op_chown,
    .utimens = op_utimens,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .fsync = op_fsync,
    .fsyncdir = op_fsyncdir,
    .release = op_release,
    .flush = op_flush,
    .statfs = op_statfs,
    .access = op_access,
};

// ---- control socket -------------------------------------------------------------------
static void reply(int fd, const char *fmt, ...) {
  char out[512];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(out, sizeof out, fmt, ap);
  va_end(ap);
  if (len > 0 && write(fd, out, (size_t)len) < 0) perror("lazyfs: control reply");
}

static void *serve_control(void *arg) {
  int server = *(int *)arg;
  for (;;) {
    int fd = accept(server, NULL, NULL);
    if (fd < 0) continue;
    char line[64] = {0};
    size_t got = 0;
    while (got < sizeof line - 1) {
      ssize_t r = read(fd, line + got, 1);
      if (r <= 0 || line[got] == '\n') break;
      got++;
    }
    line[got] = 0;
    pthread_mutex_lock(&lock);
    if (strcmp(line, "ping") == 0) {
      reply(fd, "{\"ok\":true}\n");
    } else if (strcmp(line, "stats") == 0) {
      dirt d = dirty_now();
      reply(fd,
            "{\"ok\":true,\"writes\":%lu,\"fsyncs\":%lu,\"dirSyncs\":%lu,\"drops\":%lu,"
            "\"dirtyFiles\":%lu,\"dirtyBytes\":%lu,\"dirtyDirs\":%lu}\n",
            n_writes, n_fsyncs, n_dir_syncs, n_drops, d.files, d.bytes, d.dirs);
    } else if (strcmp(line, "drop") == 0) {
      dirt d = drop();
      reply(fd, "{\"ok\":true,\"droppedFiles\":%lu,\"droppedBytes\":%lu,\"revertedDirs\":%lu}\n", d.files,
            d.bytes, d.dirs);
    } else {
      reply(fd, "{\"ok\":false,\"error\":\"unknown command\"}\n");
    }
    pthread_mutex_unlock(&lock);
    close(fd);
  }
  return NULL;
}

static int listen_control(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) {
    fprintf(stderr, "lazyfs: control socket path too long: %s\n", path);
    exit(2);
  }
  strcpy(addr.sun_path, path);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die(path);
  if (listen(fd, 8) != 0) die("listen");
  return fd;
}

// `lazyfs --control SOCKET --send drop`: the control client, for shells.
static int send_command(const char *path, const char *command) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die(path);
  char line[128];
  int len = snprintf(line, sizeof line, "%s\n", command);
  if (write(fd, line, (size_t)len) != len) die("write");
  char out[512];
  ssize_t r;
  while ((r = read(fd, out, sizeof out)) > 0) fwrite(out, 1, (size_t)r, stdout);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  const char *backing_arg = NULL, *control = NULL, *mountpoint = NULL, *command = NULL;
  int debug = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--backing") == 0 && i + 1 < argc)
      backing_arg = argv[++i];
    else if (strcmp(argv[i], "--control") == 0 && i + 1 < argc)
      control = argv[++i];
    else if (strcmp(argv[i], "--send") == 0 && i + 1 < argc)
      command = argv[++i];
    else if (strcmp(argv[i], "--debug") == 0)
      debug = 1;
    else if (strcmp(argv[i], "--die-with-parent") == 0)
      // A test runner killed outright must not leave a mount behind: SIGTERM makes fuse_main
      // unmount and return.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
    else if (argv[i][0] != '-' && !mountpoint)
      mountpoint = argv[i];
    else {
      mountpoint = NULL;
      break;
    }
  }
  if (control && command) return send_command(control, command);
  if (!backing_arg || !control || !mountpoint) {
    fprintf(stderr,
            "usage: lazyfs --backing DIR --control SOCKET MOUNTPOINT [--debug] [--die-with-parent]\n"
            "       lazyfs --control SOCKET --send ping|stats|drop\n");
    return 2;
  }
  if (!realpath(backing_arg, backing)) die(backing_arg);
  root = load(backing, 1);
  static int control_fd;
  control_fd = listen_control(control);
  pthread_t thread;
  if (pthread_create(&thread, NULL, serve_control, &control_fd) != 0) die("pthread_create");
  pthread_detach(thread);
  char *fuse_argv[] = {argv[0], (char *)mountpoint, "-f", "-s", "-o", "fsname=ddia-lazyfs,subtype=lazyfs",
                       debug ? "-d" : NULL, NULL};
  int fuse_argc = debug ? 7 : 6;
  return fuse_main(fuse_argc, fuse_argv, &ops, NULL);
}
