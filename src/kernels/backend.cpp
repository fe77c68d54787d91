// kernels/backend.cpp — backend selection (the CUDA factory exists only in CUDA builds).
#include "kernels/backend.h"
#include "core/check.h"

#include <string>

#ifdef ROTOR_HAVE_CUDA
#include "kernels/cuda/cuda_ops.h"
#endif

namespace rotor {

bool cuda_available() { return cuda_gpu_count() > 0; }

int cuda_gpu_count() {
#ifdef ROTOR_HAVE_CUDA
  return cuda_device_count();
#else
  return 0;
#endif
}

std::unique_ptr<Ops> make_gpu_ops(int device, int lane) {
#ifdef ROTOR_HAVE_CUDA
  return make_cuda_ops(device, lane);
#else
  (void)lane;
  ROTOR_FAIL("cuda:{}: this rotor was built without CUDA (configure with -DROTOR_CUDA=ON)", device);
#endif
}

std::unique_ptr<Ops> make_ops(std::string_view device) {
  if (device == "cpu") return make_cpu_ops();
  if (device == "auto") return cuda_available() ? make_ops("cuda") : make_cpu_ops();
  if (device.substr(0, 4) == "cuda") {
#ifdef ROTOR_HAVE_CUDA
    int index = 0;
    if (device.size() > 5 && device[4] == ':') index = std::stoi(std::string(device.substr(5)));
    ROTOR_CHECK(index >= 0 && index < cuda_device_count(), "--device {}: no such GPU ({} present)", device,
                cuda_device_count());
    return make_cuda_ops(index);
#else
    ROTOR_FAIL("--device {}: this rotor was built without CUDA (configure with -DROTOR_CUDA=ON)", device);
#endif
  }
  ROTOR_FAIL("--device must be cpu, cuda, cuda:N or auto (got '{}')", device);
}

}  // namespace rotor
