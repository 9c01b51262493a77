/* The floor of one-row inference on this machine: how fast one core reads a block of
   weights that sits in its L2 cache, against a dot-product GEMV over the same block.

       gcc -O2 -mavx512f -o /tmp/l2_gemv benchmarks/lab/l2_gemv.c && /tmp/l2_gemv

   The block is one thread's half of the book MLP's first layer: 150 units x 784
   inputs, float32, 470 KB (fits a 1 MB L2). A streaming AVX-512 sum over it is the
   bandwidth bound; the GEMV (two units at a time, 4 accumulators) is what a
   hand-written kernel would reach. On the development VM (Zen 4): sum 4.06 us
   (116 GB/s), GEMV 4.6 us, and OpenBLAS's sgemv on the same block 4.6-4.8 us: no
   headroom for a kernel of our own, so one-row latency stays with BLAS. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(){
  size_t n = 784*150; float* a = aligned_alloc(64, n*4); float x[784];
  for(size_t i=0;i<n;i++) a[i]=1e-3f*(i%100); for(int i=0;i<784;i++) x[i]=1;
  __m512 s0=_mm512_setzero_ps(),s1=s0,s2=s0,s3=s0;
  for(int rep=0;rep<3;rep++){
  double t=now(); int R=20000;
  for(int r=0;r<R;r++){
    for(size_t i=0;i<n;i+=64){
      s0=_mm512_add_ps(s0,_mm512_load_ps(a+i)); s1=_mm512_add_ps(s1,_mm512_load_ps(a+i+16));
      s2=_mm512_add_ps(s2,_mm512_load_ps(a+i+32)); s3=_mm512_add_ps(s3,_mm512_load_ps(a+i+48));
    }
  }
  double dt=(now()-t)/R; printf("sum 470KB: %.2f us  %.1f GB/s\n", dt*1e6, n*4/dt/1e9);
  /* gemv_t: 150 dot products of 784 */
  float y[150];
  t=now();
  for(int r=0;r<R;r++){
    for(int c=0;c<150;c+=2){
      __m512 a0=_mm512_setzero_ps(),a1=a0,b0=a0,b1=a0; const float* w0=a+c*784; const float* w1=w0+784;
      int k=0;
      for(;k+32<=784;k+=32){ __m512 xa=_mm512_loadu_ps(x+k), xb=_mm512_loadu_ps(x+k+16);
        a0=_mm512_fmadd_ps(_mm512_loadu_ps(w0+k),xa,a0); a1=_mm512_fmadd_ps(_mm512_loadu_ps(w0+k+16),xb,a1);
        b0=_mm512_fmadd_ps(_mm512_loadu_ps(w1+k),xa,b0); b1=_mm512_fmadd_ps(_mm512_loadu_ps(w1+k+16),xb,b1);}
      __mmask16 m=(1u<<(784-k))-1; __m512 xa=_mm512_maskz_loadu_ps(m,x+k);
      a0=_mm512_fmadd_ps(_mm512_maskz_loadu_ps(m,w0+k),xa,a0); b0=_mm512_fmadd_ps(_mm512_maskz_loadu_ps(m,w1+k),xa,b0);
      y[c]=_mm512_reduce_add_ps(_mm512_add_ps(a0,a1)); y[c+1]=_mm512_reduce_add_ps(_mm512_add_ps(b0,b1));
    }
    x[r%784]+=y[r%150]*1e-30f;
  }
  dt=(now()-t)/R; printf("gemv_t 784x150: %.2f us  %.1f GB/s\n", dt*1e6, n*4/dt/1e9);
  }
  float o[16]; _mm512_storeu_ps(o,_mm512_add_ps(_mm512_add_ps(s0,s1),_mm512_add_ps(s2,s3))); printf("%f\n",o[0]);
}
