/* Thread slots: a small index per thread, for counters that each thread keeps apart and that
 * are summed when read (DESIGN.md section 7: no shared atomic per message). A thread takes the
 * lowest free slot on first use and gives it back when it exits, so a reload's new endpoint
 * threads reuse the slots of the ones that stopped; the counts a slot holds stay (they are
 * totals) and its next owner adds to them. */
#ifndef BRG_TSLOT_H
#define BRG_TSLOT_H

/* Threads that can have a slot at once; more than that share one (atomic adds). */
#define BRG_TSLOTS 32

/* Returns: the calling thread's slot in [0, BRG_TSLOTS), or -1 when all are taken. The first
 * call on a thread takes it; the thread's exit frees it. Only the owner writes a slot's
 * counters, so a relaxed load and store is enough (no read-modify-write); a new owner sees the
 * old owner's last stores (the slot is handed over with release and acquire). Thread: any. */
int brg_tslot(void);

#endif
