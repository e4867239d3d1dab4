package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static org.rfim4j.backend.cuda.Checks.sameSize;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import org.rfim4j.backend.DeviceArray;

/**
 * The first-order optimizer updates of {@link CudaBackend}: per-tensor SGD (with or without momentum) and
 * Adam, and their multi-tensor forms, one launch over every tensor of a parameter list through a device
 * table [starts][pointers per list] that is uploaded once per list of storages and kept until one of
 * its arrays is closed. In
 * graph mode Adam's bias corrections go through the {@link GraphParameters} block.
 */
final class CudaOptimizers implements AutoCloseable {
  private final CudaBackend backend;
  private final CudaArrays arrays;
  private final CudaRuntime rt;
  private final Kernels k;
  private final GraphParameters graphParams;
  /** Device tables of multi-tensor optimizer launches, by their lists of storages (uploaded once). */
  private final Map<List<List<CudaArray.Storage>>, Table> tables = new HashMap<>();
  /** The tables pointing into each allocation, for eviction when it is closed. */
  private final Map<CudaArray, List<Table>> byRoot = new IdentityHashMap<>();
  private final Memo sgdMemo = new Memo();
  private final Memo adamMemo = new Memo();

  CudaOptimizers(CudaBackend backend, CudaArrays arrays, CudaRuntime rt, Kernels k, GraphParameters graphParams) {
    this.backend = backend;
    this.arrays = arrays;
    this.rt = rt;
    this.k = k;
    this.graphParams = graphParams;
  }

  void sgdUpdate(DeviceArray param, DeviceArray grad, DeviceArray velocity, double lr, double momentum) {
    CudaArray P = arrays.arr("param", param);
    CudaArray G = arrays.arr("grad", grad);
    CudaArray V = arrays.optArr("velocity", velocity);
    sameSize("param", P, "grad", G);
    backend.enter();
    if (V == null) {
      k.launchN(k.sgd, P.size(), P.size(), P.ptr(), G.ptr(), (float) lr);
    } else {
      sameSize("param", P, "velocity", V);
      k.launchN(k.sgdMomentum, P.size(), P.size(), P.ptr(), G.ptr(), V.ptr(), (float) lr, (float) momentum);
    }
  }

  void adamUpdate(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, double lr, double beta1,
      double beta2, double eps, long t) {
    CudaArray P = arrays.arr("param", param);
    CudaArray G = arrays.arr("grad", grad);
    CudaArray M = arrays.arr("m", m);
    CudaArray V = arrays.arr("v", v);
    sameSize("param", P, "grad", G);
    sameSize("param", P, "m", M);
    sameSize("param", P, "v", V);
    if (t < 1) {
      throw new IllegalArgumentException("t must be >= 1 (1-based step), got " + t);
    }
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    backend.enter();
    k.launchN(k.adam, P.size(), P.size(), P.ptr(), G.ptr(), M.ptr(), V.ptr(), (float) lr, (float) beta1,
        (float) beta2, (float) eps, (float) c1, (float) c2);
  }

  /**
   * The device table of a multi-tensor launch over {@code lists} (params first, then one list per other
   * operand, all of the same length): [starts (count+1 longs)][count pointers per list], uploaded on first use
   * (a host synchronisation) and cached per list of storages ({@link CudaArray.Storage}, in order): equal
   * views made afresh share a table, while the same arrays split into lists differently have a different
   * layout and get their own. A table is freed when any array it points into is closed ({@link #evict}).
   * {@code memo} remembers the lists (by identity) its call site passed last, so a training loop that passes
   * the same lists every step finds its table without building a key.
   */
  private synchronized MultiTensor table(Memo memo, List<List<DeviceArray>> lists) {
    Table t = memo.table;
    if (t != null && memo.matches(lists)) {
      return t.mt;
    }
    List<List<CudaArray.Storage>> key = new ArrayList<>(lists.size());
    for (List<DeviceArray> l : lists) {
      List<CudaArray.Storage> sl = new ArrayList<>(l.size());
      for (DeviceArray a : l) {
        sl.add(((CudaArray) a).storage());
      }
      key.add(sl);
    }
    t = tables.get(key);
    if (t == null) {
      t = upload(key, lists);
      tables.put(key, t);
      for (CudaArray r : t.roots) {
        byRoot.computeIfAbsent(r, x -> new ArrayList<>()).add(t);
      }
    }
    memo.remember(lists, t);
    return t.mt;
  }

  private Table upload(List<List<CudaArray.Storage>> key, List<List<DeviceArray>> lists) {
    List<DeviceArray> params = lists.get(0);
    int count = params.size();
    long bytes = (count + 1L) * Sizeof.LONG + (long) lists.size() * count * Sizeof.POINTER;
    long[] starts = new long[count + 1];
    for (int i = 0; i < count; i++) {
      starts[i + 1] = starts[i] + params.get(i).size();
    }
    Set<CudaArray> roots = Collections.newSetFromMap(new IdentityHashMap<>());
    DeviceBuffer b = new DeviceBuffer("multi-tensor table", rt);
    try {
      rt.hostSync("multi-tensor table upload");
      CUdeviceptr p = b.ensure(bytes);
      rt.rec.noteTransfer(true, starts.length * (long) Sizeof.LONG);
      cuMemcpyHtoD(p, Pointer.to(starts), starts.length * (long) Sizeof.LONG);
      long at = starts.length * (long) Sizeof.LONG;
      for (List<DeviceArray> l : lists) {
        CUdeviceptr[] ptrs = new CUdeviceptr[count];
        for (int i = 0; i < count; i++) {
          CudaArray a = (CudaArray) l.get(i);
          ptrs[i] = a.ptr();
          roots.add(a.root());
        }
        rt.rec.noteTransfer(true, (long) count * Sizeof.POINTER);
        cuMemcpyHtoD(p.withByteOffset(at), Pointer.to(ptrs), (long) count * Sizeof.POINTER);
        at += (long) count * Sizeof.POINTER;
      }
      return new Table(key, b, new MultiTensor(p, count, starts[count]), roots);
    } catch (RuntimeException | Error e) {
      try {
        b.close();
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /**
   * Frees the tables that point into {@code root}'s storage (it is being closed), so models and optimizers
   * built and closed on one backend do not accumulate tables.
   */
  synchronized void evict(CudaArray root) {
    List<Table> ts = byRoot.remove(root);
    if (ts == null) {
      return;
    }
    for (Table t : ts) {
      tables.remove(t.key);
      t.buf.close();
      for (CudaArray r : t.roots) {
        List<Table> other = byRoot.get(r);
        if (other != null) {
          other.remove(t);
          if (other.isEmpty()) {
            byRoot.remove(r);
          }
        }
      }
      for (Memo m : new Memo[] {sgdMemo, adamMemo}) {
        if (m.table == t) {
          m.forget();
        }
      }
    }
  }

  synchronized int cachedTables() {
    return tables.size();
  }

  /**
   * A cached multi-tensor table: its key, device buffer, launch view and the allocations it points into
   * (compared by identity).
   */
  private static final class Table {
    final List<List<CudaArray.Storage>> key;
    final DeviceBuffer buf;
    final MultiTensor mt;
    final Set<CudaArray> roots;

    Table(List<List<CudaArray.Storage>> key, DeviceBuffer buf, MultiTensor mt, Set<CudaArray> roots) {
      this.key = key;
      this.buf = buf;
      this.mt = mt;
      this.roots = roots;
    }
  }

  /** The lists one call site passed last (elements by identity) and their table. */
  private static final class Memo {
    private DeviceArray[][] lists;
    private Table table;

    boolean matches(List<List<DeviceArray>> l) {
      if (lists == null || l.size() != lists.length) {
        return false;
      }
      for (int i = 0; i < lists.length; i++) {
        List<DeviceArray> li = l.get(i);
        DeviceArray[] mi = lists[i];
        if (li.size() != mi.length) {
          return false;
        }
        for (int j = 0; j < mi.length; j++) {
          if (li.get(j) != mi[j]) {
            return false;
          }
        }
      }
      return true;
    }

    void remember(List<List<DeviceArray>> l, Table t) {
      lists = new DeviceArray[l.size()][];
      for (int i = 0; i < lists.length; i++) {
        lists[i] = l.get(i).toArray(new DeviceArray[0]);
      }
      table = t;
    }

    void forget() {
      lists = null;
      table = null;
    }
  }

  /** A multi-tensor table: its starts at {@code table}, then {@code count} pointers per list. */
  private record MultiTensor(CUdeviceptr table, int count, long total) {
    /** The pointers of list {@code i} (0: params). */
    CUdeviceptr list(int i) {
      return table.withByteOffset((count + 1L) * Sizeof.LONG + i * (long) count * Sizeof.POINTER);
    }
  }

  private void sameLists(String what, List<DeviceArray> params, List<DeviceArray> other, String otherName) {
    if (!(other != null && other.size() == params.size())) {
      throw new IllegalArgumentException(otherName + " must have one array per param ("
          + params.size() + ")");
    }
    for (int i = 0; i < params.size(); i++) {
      sameSize(what + "[" + i + "]", arrays.arr(what + "[" + i + "]", params.get(i)), otherName + "[" + i + "]",
          arrays.arr(otherName + "[" + i + "]", other.get(i)));
    }
  }

  void sgdUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> velocities, double lr,
      double momentum) {
    if (!(params != null && !params.isEmpty())) {
      throw new IllegalArgumentException("params must not be empty");
    }
    sameLists("params", params, grads, "grads");
    if (velocities != null) {
      sameLists("params", params, velocities, "velocities");
    }
    backend.enter();
    List<List<DeviceArray>> lists = velocities == null ? List.of(params, grads) : List.of(params, grads, velocities);
    MultiTensor t = table(sgdMemo, lists);
    k.launchN(k.sgdMulti, t.total(), t.table(), t.list(0), t.list(1), velocities == null ? null : t.list(2),
        t.count(), (float) lr, (float) momentum);
  }

  void adamUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> m, List<DeviceArray> v,
      double lr, double beta1, double beta2, double eps, long t) {
    if (!(params != null && !params.isEmpty())) {
      throw new IllegalArgumentException("params must not be empty");
    }
    sameLists("params", params, grads, "grads");
    sameLists("params", params, m, "m");
    sameLists("params", params, v, "v");
    if (t < 1) {
      throw new IllegalArgumentException("t must be >= 1 (1-based step), got " + t);
    }
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    backend.enter();
    MultiTensor tab = table(adamMemo, List.of(params, grads, m, v));
    float f1 = (float) c1;
    float f2 = (float) c2;
    // graph: the bias corrections come from the parameter block, not frozen parameters
    CUdeviceptr dyn = graphParams.stageFloats(f1, f2);
    if (dyn != null) {
      f1 = 1f;
      f2 = 1f;
    }
    k.launchN(k.adamMulti, tab.total(), tab.table(), tab.list(0), tab.list(1), tab.list(2), tab.list(3),
        tab.count(), (float) lr, (float) beta1, (float) beta2, (float) eps, f1, f2, dyn);
  }

  @Override
  public synchronized void close() {
    tables.values().forEach(t -> t.buf.close());
    tables.clear();
    byRoot.clear();
    sgdMemo.forget();
    adamMemo.forget();
  }
}
