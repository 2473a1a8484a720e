#include <stdio.h>
#include <sys/resource.h>
int main(void){struct rusage r;getrusage(RUSAGE_SELF,&r);printf("plain %ld\n",r.ru_maxrss);return 0;}
