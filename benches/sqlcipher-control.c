// Control for BENCHMARKS.md "Encryption cost" (run by benches/sqlcipher-control.sh): plain-database
// speed of stock SQLite vs SQLCipher's SQLite built the way libsqlite3-sys builds it, same workload,
// with no key and (SQLCipher build only) with a key. Usage: ./bench <file> <rows> [key]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sqlite3.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static unsigned rs=12345; static unsigned rnd(void){rs^=rs<<13;rs^=rs>>17;rs^=rs<<5;return rs;}
static void ex(sqlite3*db,const char*s){char*e=0;if(sqlite3_exec(db,s,0,0,&e)){fprintf(stderr,"%s: %s\n",s,e);exit(1);}}
static void text(char*b,int n){int p=0;for(int i=0;i<n;i++){if(rnd()%3==0){const char*w[]={"hello ","budget ","meeting ","lunch ","review ","friday "};const char*x=w[rnd()%6];int l=strlen(x);memcpy(b+p,x,l);p+=l;}else{unsigned c=0x4e00+rnd()%600;b[p++]=0xe0|(c>>12);b[p++]=0x80|((c>>6)&63);b[p++]=0x80|(c&63);}}b[p]=0;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  sqlite3*db; remove(argv[1]); char w[512]; snprintf(w,512,"%s-wal",argv[1]); remove(w); snprintf(w,512,"%s-shm",argv[1]); remove(w);
  int rows=atoi(argv[2]); if(sqlite3_open(argv[1],&db)) return 1;
  if(argc>3){char k[256];snprintf(k,256,"PRAGMA key='%s'",argv[3]);ex(db,k);}
  ex(db,"PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA cache_size=-32000;PRAGMA mmap_size=268435456;PRAGMA temp_store=MEMORY");
  ex(db,"CREATE TABLE m(id INTEGER PRIMARY KEY, conv INT, uid TEXT UNIQUE, content TEXT, sent INT);CREATE INDEX m_t ON m(conv,sent);CREATE VIRTUAL TABLE f USING fts5(t, tokenize='trigram', content='')");
  sqlite3_stmt*a,*b; sqlite3_prepare_v2(db,"INSERT INTO m(id,conv,uid,content,sent) VALUES(?1,?2,?3,?4,?5)",-1,&a,0); sqlite3_prepare_v2(db,"INSERT INTO f(rowid,t) VALUES(?1,?2)",-1,&b,0);
  char buf[1024],uid[32]; double t0=now();
  for(int i=0;i<rows;i++){ if(i%500==0) ex(db,"BEGIN IMMEDIATE"); text(buf,5+rnd()%20); snprintf(uid,32,"U%d",i);
    sqlite3_bind_int(a,1,i+1);sqlite3_bind_int(a,2,rnd()%1000);sqlite3_bind_text(a,3,uid,-1,0);sqlite3_bind_text(a,4,buf,-1,0);sqlite3_bind_int64(a,5,1700000000000LL+i);
    if(sqlite3_step(a)!=SQLITE_DONE){fprintf(stderr,"ins %s\n",sqlite3_errmsg(db));return 1;} sqlite3_reset(a);
    sqlite3_bind_int(b,1,i+1);sqlite3_bind_text(b,2,buf,-1,0); if(sqlite3_step(b)!=SQLITE_DONE){fprintf(stderr,"fts %s\n",sqlite3_errmsg(db));return 1;} sqlite3_reset(b);
    if(i%500==499||i==rows-1) ex(db,"COMMIT"); }
  double ins=now()-t0;
  sqlite3_stmt*q; sqlite3_prepare_v2(db,"SELECT count(*) FROM f WHERE f MATCH ?1",-1,&q,0);
  double lat[400]; for(int i=0;i<400;i++){ char kw[64]; text(kw,3); snprintf(buf,sizeof buf,"\"%s\"",kw); double s=now(); sqlite3_bind_text(q,1,buf,-1,0); while(sqlite3_step(q)==SQLITE_ROW); sqlite3_reset(q); lat[i]=(now()-s)*1000; }
  qsort(lat,400,sizeof(double),cmp);
  printf("%s rows=%d insert %.0f rows/s  match p50 %.3f ms p99 %.3f ms  version %s\n", argc>3?"keyed":"plain", rows, rows/ins, lat[200], lat[396], sqlite3_libversion());
  sqlite3_close(db); return 0; }
